"""A registration resumed after its identity document was purged: the assistant asks
for the document again inside the form, keeps every other answer, and completes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

from bot.identifiers import web_conversation_id
from tests.corpus import build_corpus
from tests.e2e.chat import reach_document_step, say, send_files

CORPUS = build_corpus()
ROOT = Path(__file__).resolve().parents[2]
EMAIL = "emilie.reprise@exemple-industries.fr"


def age_documents(accounts_db: str, conversation_id: str, by: timedelta) -> int:
    """Move the conversation's documents back in time, as if days had passed."""
    with sqlite3.connect(accounts_db) as db:
        rows = db.execute(
            "SELECT id, created_at FROM documents WHERE conversation_id = ?", (conversation_id,)
        ).fetchall()
        for row_id, created_at in rows:
            older = datetime.fromisoformat(created_at) - by
            db.execute(
                "UPDATE documents SET created_at = ? WHERE id = ?",
                (older.isoformat(sep=" "), row_id),
            )
    return len(rows)


def purge(stack: dict[str, str]) -> None:
    """`python -m bot purge` on the stack's databases, as the periodic purge would."""
    folder = Path(stack["accounts_db"]).parent
    env = {
        **os.environ,
        "VAR_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{stack['accounts_db']}",
        "TRACKER_DATABASE_URL": f"sqlite:///{stack['tracker_db']}",
        "OUTBOX_DIR": stack["outbox"],
    }
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "bot", "purge"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


async def test_a_registration_resumed_after_the_document_retention_completes(
    stack: dict[str, str],
) -> None:
    sender = "e2e-resume"
    conversation = web_conversation_id(sender)
    photo = CORPUS["jpeg_photo_with_exif"]
    async with aiohttp.ClientSession() as http:
        rasa = stack["rasa"]
        await reach_document_step(http, rasa, sender, email=EMAIL)
        assert "pays" in await say(http, rasa, sender, '/inform{"document_type":"passport"}')
        assert "page de votre passeport" in await say(http, rasa, sender, "Italie")
        assert "est bien reçue" in await send_files(http, stack, sender, photo)

        # Eight days later: the purge has deleted the unclaimed document.
        assert age_documents(stack["accounts_db"], conversation, timedelta(days=8)) == 1
        purge(stack)
        assert age_documents(stack["accounts_db"], conversation, timedelta(0)) == 0

        assert "récapitulatif" in await say(http, rasa, sender, "j'accepte")
        answer = await say(http, rasa, sender, "oui")
        assert "n'est plus disponible" in answer, answer
        assert "autres réponses sont conservées" in answer
        assert "page de votre passeport" in answer, "the document is asked inside the form"

        answer = await send_files(http, stack, sender, photo)
        assert "est bien reçue" in answer, answer
        # Nothing else is asked again: the terms stay accepted, the summary comes back.
        assert "récapitulatif" in answer, answer
        assert "e***e@exemple-industries.fr" in await say(http, rasa, sender, "oui")

    with sqlite3.connect(stack["accounts_db"]) as db:
        rows = db.execute(
            "SELECT last_name, first_name, birth_date, job_title, status FROM accounts "
            "WHERE email = ?",
            (EMAIL,),
        ).fetchall()
        documents = db.execute(
            "SELECT COUNT(*) FROM documents d JOIN accounts a ON a.id = d.account_id "
            "WHERE a.email = ?",
            (EMAIL,),
        ).fetchone()
    assert rows == [("Lefèvre", "Émilie", "1984-03-12", "Directrice administrative", "pending")]
    assert documents == (1,)
