"""`make prod`: the production topology on one machine, in the foreground.

    scripts/prod            render the configuration into var/prod/, prepare the databases,
                            then run supervisord in the foreground (Ctrl+C stops everything)
    scripts/prod roll       replace the Rasa replicas one at a time (a new model, new code)
    scripts/prod ctl ...    supervisorctl on the running topology (status, restart web…)
    scripts/prod bot ...    `python -m bot ...` on the topology's databases (contracts, agents)

supervisord (from the venv) runs and restarts: nginx, the one public entry; PostgreSQL
(a cluster of its own in var/prod/postgres, unless DATABASE_URL and TRACKER_DB_HOST name
other servers) for the account database and Rasa's tracker store; Redis (unless REDIS_HOST
names one) for Rasa's lock store and the socket.io message queue; two Rasa replicas; the
action server; the web process. Modules:

- `topology`: every setting read from the environment once, the secrets, and the
  environment of the processes;
- `render`: the configuration files from the templates of this folder;
- `postgres`: the local cluster (initdb, roles and databases, migrations);
- `program`: how supervisord starts a program (wait for a port, clear a killed nginx);
- `roll`: the rolling restart.
"""
