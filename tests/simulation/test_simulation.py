"""Simulated people, written apart from the training data, register and activate their
account on the whole running stack, understood the first time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.simulation import report
from tests.simulation.dialogue import Question, plain
from tests.simulation.people import PEOPLE
from tests.simulation.person import Later, Person
from tests.simulation.simulate import Outcome

ROOT = Path(__file__).resolve().parents[2]
TRAINING_AND_HELDOUT = [
    *sorted((ROOT / "data" / "nlu").glob("*.yml")),
    ROOT / "tests/nlu/heldout.yml",
]
# Across the suite, at most one message in this many gets a « not understood » answer.
MESSAGES_PER_MISUNDERSTANDING = 50
# Short answers (« oui », a bare value) are everybody's: only sentences must be new.
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def _words(text: str) -> str:
    return " ".join(re.findall(r"[\w@.']+", plain(text)))


def _examples() -> set[str]:
    found = set()
    for path in TRAINING_AND_HELDOUT:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                found.add(_words(_ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))))
    return found


def _what_they_type(person: Person) -> Iterator[str]:
    yield from person.opening
    for turns in person.script.values():
        for turn in turns:
            turn = turn.turn if isinstance(turn, Later) else turn
            if isinstance(turn, str):
                yield turn
    for question in Question:
        if hasattr(person.style, question.name.lower()):
            yield person.answer(question)


def test_people_are_written_apart_from_the_nlu_data() -> None:
    examples = _examples()
    copied = {
        (person.name, text)
        for person in PEOPLE
        for text in _what_they_type(person)
        if len(_LETTER_WORD.findall(text)) >= 4 and _words(text) in examples
    }
    assert not copied, f"messages found in data/nlu or tests/nlu/heldout.yml: {sorted(copied)}"
    assert len(PEOPLE) >= 30
    assert len({person.key for person in PEOPLE}) == len(PEOPLE)
    assert len({person.me.email for person in PEOPLE}) == len(PEOPLE), "one e-mail per person"


@pytest.mark.parametrize("person", PEOPLE, ids=lambda person: person.key)
def test_the_person_registers_and_activates(person: Person, simulation: dict[str, Outcome]) -> None:
    outcome = simulation[person.key]
    problems = [*outcome.problems, *([] if outcome.activated else ["not activated"])]
    assert not problems, "\n".join([*problems, *report.transcript(outcome)])


def test_at_most_one_message_in_fifty_is_not_understood(
    simulation: dict[str, Outcome],
) -> None:
    messages = sum(outcome.messages for outcome in simulation.values())
    misunderstood = [
        f"{outcome.person.name}: {report.shown(exchange)}"
        for outcome in simulation.values()
        for exchange in outcome.misunderstandings
    ]
    assert len(misunderstood) * MESSAGES_PER_MISUNDERSTANDING <= messages, "\n".join(
        [f"{len(misunderstood)} of {messages} messages not understood:", *misunderstood]
    )


def test_every_message_gets_an_answer(simulation: dict[str, Outcome]) -> None:
    silent = [
        f"{outcome.person.name}: {report.shown(exchange)}"
        for outcome in simulation.values()
        for exchange in outcome.silences
    ]
    assert not silent, "\n".join(silent)


def test_people_who_give_several_fields_at_once_finish_in_eight_messages(
    simulation: dict[str, Outcome],
) -> None:
    limited = [outcome for outcome in simulation.values() if outcome.person.max_messages]
    too_long = {
        outcome.person.name: outcome.created_after or outcome.messages
        for outcome in limited
        if outcome.created_after is None or outcome.too_long
    }
    assert not too_long, f"messages before the account was created: {too_long}"
