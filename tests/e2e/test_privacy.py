"""Personal data on the real stack: « Annuler », once confirmed, erases the conversation,
`privacy export` returns one person's data, `privacy erase` and the purge leave none of
their strings in any database file (the bytes of the files are searched), and the audit
log says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest

from tests.corpus import build_corpus
from tests.e2e.chat import FIRST_STEPS, say, send_files, slots_of
from tests.e2e.conftest import ROOT, running_stack

CORPUS = build_corpus()


def person(last: str, first: str, birth: str, mobile: str, email: str) -> dict[str, object]:
    """A person's answers, typed as a user does, and the strings that must not remain."""
    answers = {
        "Lefèvre": last,
        "Émilie": first,
        "12/03/1984": birth,
        "06 12 34 56 78": mobile,
        "emilie.lefevre@exemple-industries.fr": email,
    }
    steps = [(answers.get(typed, typed), expected) for typed, expected in FIRST_STEPS]
    day, month, year = birth.split("/")
    strings = [last, first, email, mobile, birth, f"{year}-{month}-{day}"]
    strings.append("+33" + mobile.replace(" ", "")[1:])
    return {"steps": steps, "strings": strings, "email": email, "last": last}


SOLANGE = person("Kerbrat", "Solange", "23/07/1975", "06 71 82 93 04", "solange.kerbrat@exemple.fr")
PAUL = person("Guillou", "Paul", "02/09/1968", "06 55 44 33 22", "paul.guillou@exemple.fr")

LAST_STEPS = [
    ('/inform{"document_type":"passport"}', "Quel pays a délivré votre passeport"),
    ("Italie", "page de votre passeport"),
    ("photo", "est bien reçue"),
    ("j'accepte", "récapitulatif"),
    ("oui", "@exemple.fr"),
]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A stack of its own: these tests erase and purge its databases."""
    with running_stack(tmp_path_factory.mktemp("privacy")) as urls:
        yield urls


def cli(stack: dict[str, str], *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{stack['accounts_db']}",
        "TRACKER_DATABASE_URL": f"sqlite:///{stack['tracker_db']}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def database_bytes(
    stack: dict[str, str], names: tuple[str, ...] = ("accounts", "tracker")
) -> bytes:
    """The stack's database files: the two databases and their -wal, -shm, -journal."""
    folder = Path(stack["accounts_db"]).parent
    files = [path for path in folder.iterdir() if path.name.split(".db")[0] in names]
    assert files
    return b"".join(path.read_bytes() for path in files if path.is_file())


def forms(text: str) -> list[bytes]:
    """How a string can lie in the files: UTF-8 text, or JSON with escaped accents."""
    return [text.encode(), json.dumps(text)[1:-1].encode(), text.lower().encode()]


def found(strings: list[str], data: bytes) -> list[str]:
    return [text for text in strings if any(form in data for form in forms(text))]


async def register(
    http: aiohttp.ClientSession, stack: dict[str, str], sender: str, who: dict
) -> None:
    for typed, expected in [*who["steps"], *LAST_STEPS]:
        if typed == "photo":
            answer = await send_files(http, stack, sender, CORPUS["jpeg_photo_with_exif"])
        else:
            answer = await say(http, stack["rasa"], sender, typed)
        assert expected in answer, f"after {typed!r} the assistant said {answer!r}"


async def test_cancel_erases_the_answers_and_the_person_can_start_again(
    own_stack: dict[str, str],
) -> None:
    sender = "e2e-privacy-cancel"
    typed = ["Lefèvre", "Émilie", "emilie.lefevre@exemple-industries.fr", "06 12 34 56 78"]

    def tracker_bytes() -> bytes:  # a demo company is « Transports Lefèvre et Fils »
        return database_bytes(own_stack, ("tracker",))

    async with aiohttp.ClientSession() as http:
        for text, expected in FIRST_STEPS[:10]:
            assert expected in await say(http, own_stack["rasa"], sender, text)
        assert found(typed, tracker_bytes()) == typed, "the answers were stored"

        answer = await say(http, own_stack["rasa"], sender, "annuler")
        assert "Voulez-vous vraiment annuler" in answer
        assert found(typed, tracker_bytes()) == typed, "nothing is erased before a yes"

        answer = await say(http, own_stack["rasa"], sender, "oui")
        assert "effacé de nos systèmes cette conversation\u00a0: vos réponses" in answer
        assert found(typed, tracker_bytes()) == []

        answer = await say(http, own_stack["rasa"], sender, "je veux créer mon espace client")
        assert "SIREN" in answer, "the person starts again"
        slots = await slots_of(http, own_stack, sender)
    assert slots["last_name"] is None and slots["professional_email"] is None
    assert found(typed, tracker_bytes()) == []


async def test_export_erase_and_purge_leave_nothing_of_the_person(
    own_stack: dict[str, str],
) -> None:
    async with aiohttp.ClientSession() as http:
        await register(http, own_stack, "e2e-privacy-solange", SOLANGE)
        await register(http, own_stack, "e2e-privacy-paul", PAUL)
    everyone = SOLANGE["strings"] + PAUL["strings"]
    assert found(everyone, database_bytes(own_stack)) == everyone

    exported = cli(own_stack, "privacy", "export", "--email", str(SOLANGE["email"]))
    data = json.loads(exported)
    (account,) = data["accounts"]
    assert (account["email"], account["last_name"]) == (SOLANGE["email"], "Kerbrat")
    assert account["consent"]["cgu_version"] and account["consent"]["accepted_at"]
    assert [d["document_type"] for d in data["documents"]] == ["passport"]
    assert "data" not in data["documents"][0], "metadata, never the document"
    (conversation,) = data["conversations"]
    said = [line["text"] for line in conversation["transcript"] if line["from"] == "user"]
    assert "Kerbrat" in said and str(SOLANGE["email"]) in said
    assert found(PAUL["strings"], exported.encode()) == [], "nobody else's data"

    erased = cli(own_stack, "privacy", "erase", "--email", str(SOLANGE["email"]))
    assert "1 accounts" in erased
    assert found(SOLANGE["strings"], database_bytes(own_stack)) == []
    assert found(PAUL["strings"], database_bytes(own_stack)) == PAUL["strings"]

    entries = [json.loads(line) for line in cli(own_stack, "audit").splitlines()]
    actions = {entry["action"] for entry in entries}
    assert {"registration_cancelled", "privacy_export", "privacy_erase", "purge"} <= actions
    log = json.dumps(entries)
    assert found(SOLANGE["strings"] + PAUL["strings"], log.encode()) == []
    assert "email-sha256:" in log

    # Paul never activates: 31 days later the purge deletes his account and conversation.
    as_of = (datetime.now(timezone.utc) + timedelta(days=31)).isoformat()
    cli(own_stack, "purge", "--as-of", as_of)
    assert found(PAUL["strings"], database_bytes(own_stack)) == []
    (run,) = [json.loads(line) for line in cli(own_stack, "audit", "--since", as_of).splitlines()]
    assert run["action"] == "purge" and run["details"]["accounts"] == 1
    assert run["details"]["tracker_events"] > 0
