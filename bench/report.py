"""The targets, checked against the figures, and the Markdown report.

Targets are for a 2-core machine. A missed target is reported, never an error.
"""

from __future__ import annotations

import re
from typing import Any

from bench.stats import ratio

MB = 1_000_000
NOT_MEASURED = "not measured"


def dig(tree: Any, *keys: str) -> Any:
    """tree[k1][k2]…, or None as soon as a level is missing."""
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _together(results: dict[str, Any]) -> bool:
    """Whether the run started everything at once (quick run)."""
    return bool(dig(results, "meta", "config", "start_together"))


def _fmt(value: float | None, spec: str = ".0f", unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def target(
    name: str,
    measured: float | None,
    limit: float,
    unit: str,
    *,
    at_most: bool = True,
    spec: str = ".0f",
    blocker: str | None = None,
) -> dict[str, Any]:
    """One target: met or missed by how much; `blocker` misses it whatever the figure."""
    limit_text = f"{'≤' if at_most else '≥'} {limit:{spec}}{unit}"
    row = {
        "name": name,
        "limit": limit,
        "limit_text": limit_text,
        "measured": measured,
        "measured_text": _fmt(measured, spec, unit),
        "status": NOT_MEASURED,
        "margin": "",
    }
    if measured is None:
        return row
    met = measured <= limit if at_most else measured >= limit
    gap = abs(measured - limit)
    side = ("under" if met else "over") if at_most else ("above" if met else "below")
    row["margin"] = f"{gap:{spec}}{unit} ({gap / limit:.0%}) {side}"
    row["status"] = "met" if met and not blocker else "missed"
    if blocker:
        row["margin"] += f"; {blocker}"
    return row


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The performance issue's targets against this run's figures; every comparison
    with Rasa's floor uses the floor's figure from the same run."""
    load = results.get("load", {})
    topology = results.get("topology") or {}
    # Capacity and saturation are the production topology's targets; without it (an
    # older results file, a run without the topology), the `make run` stack's figures.
    where = "production topology" if topology.get("load") else "`make run` stack"
    saturation = _saturation(results)
    rss = [dig(results, "memory", moment, "rasa") for moment in ("after_warmup", "after_soak")]
    for moment in ("rss_after_warmup", "rss_after_load"):
        rss += [dig(topology, moment, replica) for replica in ("rasa-1", "rasa-2")]
    rss_bytes = max((value for value in rss if value), default=None)
    late = dig(results, "long", "late_turn") or 200
    cpu = results.get("cpu_per_turn_ms") or {}
    cold = dig(results, "cold_start", "median_s") or {}
    capacity = topology.get("capacity") or results.get("capacity") or {}
    think = capacity.get("think_s") or [3, 10]
    served = capacity.get("largest_served")
    return [
        target(
            "Rasa CPU per turn, as a multiple of the floor's",
            ratio(cpu.get("rasa"), cpu.get("floor")),
            1.5,
            "×",
            spec=".2f",
        ),
        target("one user: p50 per turn", dig(load, "project", "1", "median", "p50_ms"), 60, " ms"),
        target("one user: p95 per turn", dig(load, "project", "1", "median", "p95_ms"), 120, " ms"),
        target(
            f"people at once with {think[0]:g}–{think[1]:g} s pauses, p95 ≤ "
            f"{capacity.get('p95_limit_ms', 500):.0f} ms ({where})",
            None if not capacity else (served or 0),
            300,
            " people",
            at_most=False,
        ),
        target(
            f"turns per second at saturation ({saturation['users']} users without pause, "
            f"{where}), no error",
            saturation["turns_per_s"],
            40,
            " turns/s",
            at_most=False,
            spec=".1f",
            blocker=f"{saturation['errors']} errors" if saturation["errors"] else None,
        ),
        target(
            "Rasa cold start, as a multiple of the floor's",
            ratio(cold.get("rasa"), cold.get("floor")),
            1.3,
            "×",
            spec=".2f",
        ),
        target(
            "Rasa server memory (RSS, highest reading)",
            None if rss_bytes is None else rss_bytes / MB,
            800,
            " MB",
        ),
        target(
            f"turn {late} as a multiple of turn 5 of one conversation",
            dig(results, "long", "ratio"),
            1.1,
            "×",
            spec=".2f",
        ),
        target("training the model", dig(results, "training", "project_s"), 90, " s"),
        target(
            "a bystander's turn while another conversation sends expensive images, "
            "as a multiple of its turn alone",
            dig(results, "bystander", "ratio"),
            1.5,
            "×",
            spec=".2f",
        ),
    ]


def _saturation(results: dict[str, Any]) -> dict[str, Any]:
    """The load level with the most users: the production topology's if measured, else
    the `make run` stack's; its users, median turns per second and errors."""
    levels = dig(results, "topology", "load") or dig(results, "load", "project") or {}
    if not levels:
        return {"users": 50, "turns_per_s": None, "errors": None}
    users = max(levels, key=int)
    figures = levels[users]["median"]
    return {"users": users, "turns_per_s": figures["turns_per_s"], "errors": figures["errors"]}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _intro(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    config = meta["config"]
    duration = meta.get("duration_s")
    load = ", ".join(f"{value:.1f}" for value in meta["load_average_at_start"])
    others = meta.get("other_cpu_share")
    took = "still running" if duration is None else f"it took {duration / 60:.1f} min"
    return [
        "# Benchmarks",
        "",
        f"Run **{meta['mode']}** of {meta['started_at']} on commit `{meta['commit']}`: "
        f"{meta['cpus']} × {meta['cpu']}, Python {meta['python']}; {took} (load average "
        f"at start: {load}).",
        "",
        f"Other work on the machine used {_fmt(others, '.0%')} of its CPU time during the "
        "run; every figure is only as good as that share is small.",
        "",
        f"Figures are medians over {config['repeats']} repeats; every ratio compares runs "
        "made in this same run, on this machine. They are measurements, not assertions: "
        "a missed target does not fail the run.",
        "",
        "Where a turn's time goes (py-spy profiles), what limits each missed target and "
        "the fixes proposed: `docs/benchmarks.md`; `python -m bench.profile` records new "
        "profiles.",
        "",
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    rows = [
        [row["name"], row["limit_text"], row["measured_text"], row["status"], row["margin"]]
        for row in results["targets"]
    ]
    return [
        "## Targets",
        "",
        *_table(["target", "limit", "measured", "status", "margin"], rows),
        "",
    ]


def _traffic_cells(figures: dict[str, Any]) -> list[str]:
    """Conversations, turns, p50/p95/p99 ms and turns/s of one load run."""
    return [
        _fmt(figures["conversations_completed"]),
        _fmt(figures["turns"]),
        *(_fmt(figures[key]) for key in ("p50_ms", "p95_ms", "p99_ms")),
        _fmt(figures["turns_per_s"], ".1f"),
    ]


def _error_and_machine_cells(figures: dict[str, Any]) -> list[str]:
    """Errors, other work's share of the CPU and the load average of one load run."""
    return [
        str(figures["errors"]),
        _fmt(figures.get("other_cpu_share"), ".0%"),
        _fmt(figures.get("load_average_1min"), ".1f"),
    ]


def _load(results: dict[str, Any]) -> list[str]:
    load = results.get("load")
    if not load:
        return ["## Conversation load", "", NOT_MEASURED + ".", ""]
    rows = []
    for name in ("project", "floor"):
        for users, level in load[name].items():
            figures = level["median"]
            registrations = _fmt(figures["registrations_per_min"], ".1f")
            rows.append(
                [
                    name,
                    users,
                    *_traffic_cells(figures),
                    registrations if name == "project" else "",
                    *_error_and_machine_cells(figures),
                ]
            )
    for users, ratios in load["ratios"].items():
        rows.append(
            ["project ÷ floor", users, "", ""]
            + [_fmt(ratios[key], ".2f", "×") for key in ("p50_ms", "p95_ms", "p99_ms")]
            + [_fmt(ratios["turns_per_s"], ".2f", "×"), "", "", "", ""]
        )
    header = [
        "bot",
        "users",
        "conversations",
        "turns",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "turns/s",
        "registrations/min",
        "errors",
        "other CPU",
        "load avg",
    ]
    uploads = ", ".join(
        f"{users} users {_fmt(level['median']['upload_p50_ms'])} ms"
        for users, level in load["project"].items()
    )
    return [
        "## Conversation load",
        "",
        "Simulated users over Rasa's REST channel, each on its own conversation and loopback "
        "address, starting the next conversation as soon as one ends (no think time). A "
        "registration is 16 turns and one file upload (`POST /uploads`, not counted as a "
        "turn); the floor bot gets as many greetings per conversation. Errors are added up "
        "over the repeats, the other figures are medians of the repeats. Other CPU: the "
        "share of the machine's CPU time that processes outside the benchmark took during "
        "the level; load avg: the 1-minute load average at its end (the processes under "
        "test count in it).",
        "",
        *_table(header, rows),
        "",
        f"Upload p50: {uploads}.",
        "",
        *_errors(load),
    ]


def _capacity(results: dict[str, Any]) -> list[str]:
    capacity = results.get("capacity")
    if not capacity or not capacity["levels"]:
        return ["## Capacity with human pauses", "", NOT_MEASURED + ".", ""]
    shortest, longest = capacity["think_s"]
    rows = [
        [people, *_traffic_cells(level), *_error_and_machine_cells(level)]
        for people, level in capacity["levels"].items()
    ]
    served = capacity["largest_served"]
    return [
        "## Capacity with human pauses",
        "",
        f"Each simulated person registers once, waiting {shortest:g} to {longest:g} s "
        "(uniformly) before each message, as someone reading and typing does; the people of "
        "a level arrive over the first pause. Levels stop at the first whose p95 per turn "
        f"passes {capacity['p95_limit_ms']:.0f} ms or that has an error. Largest number "
        f"served within it: **{served if served is not None else 'none of the levels'}**.",
        "",
        *_table(
            [
                "people",
                "registrations",
                "turns",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "turns/s",
                "errors",
                "other CPU",
                "load avg",
            ],
            rows,
        ),
        "",
    ]


def _topology(results: dict[str, Any]) -> list[str]:
    topology = results.get("topology")
    title = "## Production topology"
    if not topology:
        return [title, "", NOT_MEASURED + ".", ""]
    rows = [
        [users, *_traffic_cells(level["median"]), *_error_and_machine_cells(level["median"])]
        for users, level in (topology.get("load") or {}).items()
    ]
    header = ["users", "registrations", "turns", "p50 ms", "p95 ms", "p99 ms", "turns/s"]
    header += ["errors", "other CPU", "load avg"]
    capacity = topology.get("capacity") or {}
    capacity_rows = [
        [people, *_traffic_cells(level), *_error_and_machine_cells(level)]
        for people, level in capacity.get("levels", {}).items()
    ]
    served = capacity.get("largest_served")
    before, after = topology.get("rss_after_warmup") or {}, topology.get("rss_after_load") or {}
    cpu = topology.get("cpu_per_turn_ms") or {}
    programs = [
        [
            name,
            _fmt(None if name not in before else before[name] / MB, ".0f", " MB"),
            _fmt(None if name not in after else after[name] / MB, ".0f", " MB"),
            _fmt(cpu.get(name), ".0f", " ms"),
        ]
        for name in dict.fromkeys([*before, *after, *cpu])
    ]
    total = sum(value for value in cpu.values() if value is not None) if cpu else None
    programs.append(["all of them", "", "", _fmt(total, ".0f", " ms")])
    return [
        title,
        "",
        "`make prod` on this machine (`scripts/prod`, a local trial on loopback ports): nginx "
        f"in front of {topology['replicas']} Rasa replicas, PostgreSQL (account database and "
        "tracker store), Redis (lock store), the action server and the web process under "
        "supervisord. Every turn and upload goes through nginx, as the public's do. Started "
        f"in {_fmt(topology.get('start_s'), '.0f', ' s')} (launch to both replicas ready), "
        "after the `make run` stack had stopped.",
        "",
        "Conversation load without pause (medians of the repeats):",
        "",
        *_table(header, rows),
        "",
        "Capacity with human pauses, as above; largest number served: "
        f"**{served if served is not None else 'none of the levels'}**.",
        "",
        *_table(["people", *header[1:]], capacity_rows),
        "",
        "Each program's memory (its process tree) and CPU time per turn over the load "
        "without pause:",
        "",
        *_table(["program", "RSS after warm-up", "RSS after the load", "CPU per turn"], programs),
        "",
    ]


def _errors(load: dict[str, Any]) -> list[str]:
    """The distinct errors of each level, so that a wrong answer (the bot's behaviour,
    the same without load) is told apart from a timeout or an HTTP error (the load)."""
    lines = []
    for name in ("project", "floor"):
        for users, level in load[name].items():
            samples: dict[str, int] = {}
            for run in level["runs"]:
                for sample in run.get("error_samples", []):
                    text = re.sub(r"^\S+: ", "", sample)  # without the conversation's id
                    samples[text] = samples.get(text, 0) + 1
            if samples:
                shown = "; ".join(
                    f"{text[:240]}{'…' if len(text) > 240 else ''} (×{count})"
                    for text, count in samples.items()
                )
                errors = level["median"]["errors"]
                lines.append(f"- {name} at {users} users, {errors} error(s), e.g.: {shown}")
    if not lines:
        return []
    return [
        "Errors (at most 5 samples per run; a conversation stops at its first error):",
        "",
        *lines,
        "",
    ]


def _long(results: dict[str, Any]) -> list[str]:
    long = results.get("long")
    if not long:
        return ["## Long conversation", "", NOT_MEASURED + ".", ""]
    late = long["late_turn"]
    return [
        "## Long conversation",
        "",
        "One conversation opens the registration, then asks questions the assistant answers "
        "inside the form (why the SIREN, where the contract number is, data protection) "
        f"before asking for the SIREN again; {long['repeats']} conversation(s), median of "
        "turns t−1, t and t+1. The Rasa server's CPU time over these conversations: "
        f"{_fmt(long.get('rasa_cpu_per_turn_ms'), '.0f', ' ms')} per turn (left out of the "
        "CPU per turn below); load average at the end: "
        f"{_fmt((long.get('load_average_at_end') or [None])[0], '.1f')}.",
        "",
        *_table(
            ["turn 5", f"turn {late}", "ratio"],
            [
                [
                    _fmt(long["turn5_ms"], ".0f", " ms"),
                    _fmt(long["late_ms"], ".0f", " ms"),
                    _fmt(long["ratio"], ".2f", "×"),
                ]
            ],
        ),
        "",
    ]


def _bystander(results: dict[str, Any]) -> list[str]:
    bystander = results.get("bystander")
    if not bystander:
        return ["## A bystander during expensive images", "", NOT_MEASURED + ".", ""]
    return [
        "## A bystander during expensive images",
        "",
        f"Median of {bystander['turns']} turns of one conversation, alone, then while another "
        "conversation keeps uploading and sending a 40 Mpx PNG of a few dozen KB "
        f"({bystander['expensive_images_sent']} sent, each turn "
        f"{_fmt(bystander['expensive_image_turn_p50_ms'], '.0f', ' ms')} in the median).",
        "",
        *_table(
            ["alone", "during the images", "ratio"],
            [
                [
                    _fmt(bystander["alone_p50_ms"], ".0f", " ms"),
                    _fmt(bystander["during_expensive_images_p50_ms"], ".0f", " ms"),
                    _fmt(bystander["ratio"], ".2f", "×"),
                ]
            ],
        ),
        "",
    ]


def _processes(results: dict[str, Any]) -> list[str]:
    cold = dig(results, "cold_start", "median_s") or {}
    memory = results.get("memory", {})
    cpu = results.get("cpu_per_turn_ms") or {}
    turns = memory.get("turns")
    rows = []
    for name in ("web", "actions", "rasa", "floor"):
        after = [dig(memory, moment, name) for moment in ("after_warmup", "after_soak")]
        rows.append(
            [name, _fmt(cold.get(name), ".1f", " s")]
            + [_fmt(None if value is None else value / MB, ".0f", " MB") for value in after]
            + [_fmt(cpu.get(name), ".0f", " ms")]
        )
    runs = dig(results, "cold_start", "runs") or []
    repeats = len(runs) // 2
    loads = ", ".join(
        _fmt(run.get("load_average_1min"), ".1f") for run in runs if "load_average_1min" in run
    )
    how = (
        "web, actions and rasa started together as honcho does, while the floor bot was "
        "trained and its Rasa server started (so they all compete for the CPU)"
        if _together(results)
        else "each process started alone (web, then actions, then rasa; the floor's Rasa last)"
    )
    return [
        "## Processes",
        "",
        f"Cold start: spawn to health check OK, {how}; median of {repeats} start(s)"
        f"{f' (load average after each: {loads})' if loads else ''}. "
        "Memory: resident set of the process and its children, from /proc. CPU per turn: "
        "the process's CPU time from the end of the warm-up to the last reading, divided by "
        "the turns its bot had meanwhile, the long conversation and the bystander phase "
        "left out (the web process's includes the uploads and the account service's work).",
        "",
        *_table(
            [
                "process",
                "cold start",
                "RSS after warm-up",
                f"RSS after {turns or '—'} turns",
                "CPU per turn",
            ],
            rows,
        ),
        "",
    ]


def _models(results: dict[str, Any]) -> list[str]:
    training = results.get("training") or {}
    project_s = training.get("project_s")
    project_training = (
        _fmt(project_s, ".0f", " s")
        if project_s is not None
        else "not measured in this run (`make bench` retrains a copy into var/bench/run, "
        "about 2 min; `make train` trains models/)"
    )
    size = training.get("project_model_bytes")
    floor_size = training.get("floor_model_bytes")
    return [
        "## Models",
        "",
        f"- Project model (`{training.get('project_model') or 'models/current.tar.gz'}`): "
        f"{_fmt(None if size is None else size / MB, '.1f', ' MB')}; training time: "
        f"{project_training}.",
        f"- Floor model: {_fmt(None if floor_size is None else floor_size / MB, '.1f', ' MB')},"
        f" trained in {_fmt(training.get('floor_s'), '.0f', ' s')} (empty cache"
        f"{', while the stack started' if _together(results) else ''}).",
        "",
    ]


def _soak(results: dict[str, Any]) -> list[str]:
    soak = results.get("soak")
    if not soak or not soak["runs"]:
        return []
    rows = [
        [
            str(run["conversations_completed"]),
            str(run["turns"]),
            _fmt(run["p50_ms"]),
            _fmt(run["p95_ms"]),
            _fmt(run["turns_per_s"], ".1f"),
            str(run["errors"]),
            _fmt(run.get("load_average_1min"), ".1f"),
        ]
        for run in soak["runs"]
    ]
    return [
        "## Soak",
        "",
        f"Registrations by {soak['users']} concurrent users until the project's Rasa server "
        f"had {dig(results, 'memory', 'turns')} turns in all (every phase counted).",
        "",
        *_table(
            ["registrations", "turns", "p50 ms", "p95 ms", "turns/s", "errors", "load avg"], rows
        ),
        "",
    ]


def _nlu(results: dict[str, Any]) -> list[str]:
    nlu = results.get("nlu")
    if not nlu:
        return ["## NLU quality", "", "Not run (`make bench` runs `make nlu-report`).", ""]
    rows = [
        [run, _fmt(scores["intent_f1"], ".3f"), _fmt(scores["entity_f1"], ".3f")]
        for run, scores in nlu["scores"].items()
    ]
    when = (
        f"it took {nlu['duration_s'] / 60:.0f} min"
        if nlu.get("reused_from") is None
        else f"reports of {nlu['reused_from']} reused, being newer than the model and the "
        "data (`make bench BENCH_ARGS=--nlu-rerun` computes them again)"
    )
    return [
        "## NLU quality",
        "",
        "Weighted F1 from `make nlu-report` (5-fold cross-validation on `data/nlu`, and the "
        f"held-out `tests/nlu/heldout.yml` on the trained model); {when}.",
        "",
        *_table(["run", "intent F1", "entity F1"], rows),
        "",
    ]


def _service(results: dict[str, Any]) -> list[str]:
    service = results.get("service")
    if not service:
        return ["## Account service", "", NOT_MEASURED + ".", ""]
    rows = [
        [
            backend,
            _fmt(figures["documents_per_s"], ".1f"),
            _fmt(figures["registrations_per_s"], ".1f"),
            _fmt(figures["activations_per_s"], ".1f"),
            str(figures["errors"]),
            _fmt(figures["cold_start_s"], ".1f", " s"),
            _fmt(None if figures["rss_bytes"] is None else figures["rss_bytes"] / MB, ".0f", " MB"),
        ]
        for backend, figures in service.items()
    ]
    first = next(iter(service.values()))
    meanwhile = (
        " (measured while the stack started, so competing with it for the CPU)"
        if _together(results)
        else ""
    )
    return [
        "## Account service",
        "",
        f"The web process alone (`python -m bot serve`){meanwhile}, {first['users']} "
        "concurrent clients, "
        f"{first['registrations_per_round']} people per round: their identity documents "
        "stored (`POST /api/v1/documents`, inspected and encrypted), then their "
        "registrations (`POST /api/v1/registrations`, e-mail written to the outbox), then "
        "their activation links opened and their button pressed (`GET`, then `POST "
        "/activate/{token}`).",
        "",
        *_table(
            [
                "database",
                "documents/s",
                "registrations/s",
                "activations/s",
                "errors",
                "cold start",
                "RSS",
            ],
            rows,
        ),
        "",
    ]


def _problems(results: dict[str, Any]) -> list[str]:
    if not results["problems"]:
        return []
    return ["## Problems", "", *(f"- {problem}" for problem in results["problems"]), ""]


def render(results: dict[str, Any]) -> str:
    """The whole report, in Markdown."""
    sections = (
        _intro,
        _targets,
        _load,
        _capacity,
        _topology,
        _long,
        _bystander,
        _processes,
        _soak,
        _models,
        _nlu,
        _service,
        _problems,
    )
    return "\n".join(line for section in sections for line in section(results))
