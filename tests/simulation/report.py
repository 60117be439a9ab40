"""The simulation's table and the list of what went wrong, for the terminal and a file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tests.simulation.simulate import Exchange, Outcome

ANSWER_CHARS = 240
OUTCOME_CHARS = 70


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per person: messages, misunderstandings, silences, outcome; then totals."""
    rows = [
        (
            "person",
            "messages",
            "not understood",
            "silences",
            "asked again",
            "already given",
            "outcome",
        )
    ]
    for outcome in outcomes:
        rows.append(
            (
                outcome.person.name,
                str(outcome.messages),
                str(len(outcome.misunderstandings)),
                str(len(outcome.silences)),
                str(len(outcome.asked_again)),
                str(len(outcome.already_given)),
                outcome.summary
                if len(outcome.summary) <= OUTCOME_CHARS
                else outcome.summary[:OUTCOME_CHARS] + "…",
            )
        )
    messages = sum(outcome.messages for outcome in outcomes)
    misunderstood = sum(len(outcome.misunderstandings) for outcome in outcomes)
    rows.append(
        (
            f"{len(outcomes)} people",
            str(messages),
            f"{misunderstood} (1 in {messages // misunderstood})" if misunderstood else "0",
            str(sum(len(outcome.silences) for outcome in outcomes)),
            str(sum(len(outcome.asked_again) for outcome in outcomes)),
            str(sum(len(outcome.already_given) for outcome in outcomes)),
            f"{sum(outcome.activated and not outcome.problems for outcome in outcomes)} activated",
        )
    )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.insert(len(lines) - 1, lines[1])
    return [line.rstrip() for line in lines]


def shown(exchange: Exchange) -> str:
    answer = " / ".join(exchange.answer) or "(nothing)"
    answer = answer.replace("\n", " ")
    if len(answer) > ANSWER_CHARS:
        answer = answer[:ANSWER_CHARS] + "…"
    asked = exchange.asked.value if exchange.asked else "—"
    return f"at « {asked} » typed {exchange.typed!r} → {answer}"


def incidents(outcomes: Iterable[Outcome]) -> list[str]:
    """What went wrong, person by person: each misunderstanding, silence, question asked
    again after an answer, and why the person did not finish."""
    lines: list[str] = []
    for outcome in outcomes:
        found = [
            *(f"  not understood {shown(e)}" for e in outcome.misunderstandings),
            *(f"  silence {shown(e)}" for e in outcome.silences),
            *(f"  asked again {shown(e)}" for e in outcome.asked_again),
            *(
                f"  asked for « {question.value} » already given, {shown(e)}"
                for question, e in outcome.already_given
            ),
            *(f"  problem: {problem}" for problem in outcome.problems),
        ]
        if outcome.too_long:
            found.append(
                f"  {outcome.created_after} messages (at most {outcome.person.max_messages})"
            )
        if found:
            lines.append(f"{outcome.person.name} ({outcome.person.description}):")
            lines.extend(found)
    return lines


def transcript(outcome: Outcome) -> list[str]:
    lines = [f"## {outcome.person.name} — {outcome.person.description} ({outcome.sender})"]
    for number, exchange in enumerate(outcome.exchanges, 1):
        lines.append(
            f"{number}. [{exchange.asked.value if exchange.asked else '—'}] » {exchange.typed}"
        )
        lines.extend(
            f"      {line}" for message in exchange.answer for line in message.splitlines()
        )
        if exchange.silent:
            lines.append("      (no answer)")
    return lines


def markdown(outcomes: Sequence[Outcome]) -> str:
    """The whole report: the table, the incidents, and every transcript (those with
    incidents first)."""
    troubled = [o for o in outcomes if incidents([o])]
    troubled += [o for o in outcomes if o not in troubled]
    parts = ["# Simulation", "", "```", *table(outcomes), "```", "", "## Incidents", "", "```"]
    parts += [*incidents(outcomes), "```", ""]
    for outcome in troubled:
        parts += ["```", *transcript(outcome), "```", ""]
    return "\n".join(parts)
