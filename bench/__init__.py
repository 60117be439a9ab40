"""Benchmarks of the assistant on this machine: `make bench` and `make bench-quick`.

The whole stack is started on loopback from the Procfile, next to a minimal Rasa bot
(`bench/floor/`) that gives Rasa's own cost per turn; simulated users then register
over the REST channel. The account service is measured alone on SQLite and PostgreSQL,
and the NLU reports of `make nlu-report` are read back. Everything lands in
`var/bench/report.md` and `var/bench/results.json`.
"""
