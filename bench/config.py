"""What a benchmark run measures, and how much of it: the full and the quick presets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BenchConfig:
    """The sizes of one run; `full()` is `make bench`, `quick()` is `make bench-quick`."""

    name: str
    # Conversation load: concurrent simulated users, and runs of each level.
    levels: tuple[int, ...]
    repeats: int
    # Each level runs max(users × conversations_per_user, min_conversations) registrations.
    conversations_per_user: int
    min_conversations: int
    # Turns sent to the project's Rasa server before the last memory reading.
    soak_turns: int
    soak_users: int
    # Long conversation: latency around turn 5 against around this turn.
    long_turns: int
    long_repeats: int
    cold_start_repeats: int
    # The account service alone.
    service_registrations: int
    service_users: int
    service_repeats: int
    postgres: bool
    nlu: bool
    # Capacity with human pauses: this many people at once, each registering once and
    # waiting `think_s` (shortest, longest seconds) before each message; the levels stop
    # at the first whose p95 per turn passes `capacity_p95_ms`.
    capacity_levels: tuple[int, ...] = ()
    think_s: tuple[float, float] = (3.0, 10.0)
    capacity_p95_ms: float = 500.0
    # `make prod`'s topology (nginx, two Rasa replicas, PostgreSQL, Redis), through nginx:
    # conversation load at these numbers of users without pause (the largest is the
    # saturation figure), then capacity with human pauses at these numbers of people.
    topology_levels: tuple[int, ...] = ()
    topology_capacity_levels: tuple[int, ...] = ()
    train_project: bool = False
    # Run `make nlu-report` even when its reports are up to date.
    nlu_rerun: bool = False
    # Start the stack's processes, train the floor and measure the account service all
    # at once (quicker; those figures then include the competition for the CPU).
    start_together: bool = False
    out: Path = ROOT / "var" / "bench"
    # The model the project's Rasa server serves (`--model`: compare two models).
    model: Path = ROOT / "models" / "current.tar.gz"
    # Any load error makes the run fail (quick: the harness check of CI). Otherwise only
    # errors without concurrency (warm-up, one user) do: under load they are a figure.
    strict: bool = False

    @classmethod
    def full(cls) -> BenchConfig:
        """About an hour on 2 cores: the NLU cross-validation, the capacity levels (about
        2 minutes each, on the `make run` stack then on the production topology) and the
        loads."""
        return cls(
            name="full",
            levels=(1, 10, 50),
            repeats=2,
            conversations_per_user=1,
            min_conversations=6,
            # The issue asks for 10,000 (`--soak-turns 10000`): about 30 min more at the
            # 5 turns per second measured on 2 cores.
            soak_turns=3_000,
            soak_users=10,
            long_turns=200,
            long_repeats=2,
            cold_start_repeats=2,
            service_registrations=150,
            service_users=10,
            service_repeats=3,
            postgres=True,
            nlu=True,
            capacity_levels=(25, 50, 100, 200),
            topology_levels=(10, 50),
            topology_capacity_levels=(50, 100, 200, 300, 400),
            train_project=True,
        )

    @classmethod
    def quick(cls) -> BenchConfig:
        """About 4 minutes on an idle 2-core machine: 2 of them Rasa loading the model
        (in the `make run` stack, then twice in the production topology)."""
        return cls(
            name="quick",
            levels=(1, 3),
            repeats=2,
            conversations_per_user=1,
            min_conversations=1,
            soak_turns=0,
            soak_users=3,
            long_turns=15,
            long_repeats=1,
            cold_start_repeats=1,
            service_registrations=20,
            service_users=3,
            service_repeats=2,
            postgres=False,
            nlu=False,
            capacity_levels=(3,),
            think_s=(0.2, 0.5),
            topology_levels=(3,),
            topology_capacity_levels=(3,),
            start_together=True,
            strict=True,
        )

    def with_changes(self, **changes: object) -> BenchConfig:
        """This configuration with the options given on the command line."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def conversations_at(self, users: int) -> int:
        """How many registrations one run at `users` concurrent users completes."""
        return max(users * self.conversations_per_user, self.min_conversations)
