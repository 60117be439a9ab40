"""A person's requests against the real account database (SQLite and PostgreSQL) and a
tracker store: the export holds their data and nobody else's, the erase deletes it all,
and both are in the audit log under a hash of the address."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot import privacy, retention
from bot.models import Account, AuditEntry, Document
from bot.services import audit
from bot.web.keys import SESSIONS, SETTINGS
from tests.bot.payloads import OTHER_CONTRACT, OTHER_SIREN, registration_with_document
from tests.bot.test_purge import say, senders, tracker_db
from tests.conftest import MovableClock, Service

EMILIE = "emilie.lefevre@exemple-industries.fr"
LUC = "luc.martin@exemple.fr"


async def two_people(service: Service, clock: MovableClock) -> str:
    path = tracker_db(service)
    for key, email, changes in (
        ("a", EMILIE, {"conversation_id": "conv-1"}),
        (
            "b",
            LUC,
            {
                "conversation_id": "conv-2",
                "person": {"last_name": "Martin", "first_name": "Luc"},
                "company": {"siren": OTHER_SIREN, "contract_number": OTHER_CONTRACT},
            },
        ),
    ):
        body = await registration_with_document(service, professional={"email": email}, **changes)
        status, answer = await service.post(
            "/api/v1/registrations", body, headers={"Idempotency-Key": key}
        )
        assert status == 201, answer
    say(path, "conv-1", "Lefèvre", clock())
    say(path, "conv-1", EMILIE, clock())
    say(path, "conv-2", "Martin", clock())
    # An abandoned conversation where Émilie typed her address too.
    say(path, "conv-old", f"mon e-mail : {EMILIE.upper()}", clock())
    return path


async def test_export_holds_the_person_and_nobody_else(
    service: Service, clock: MovableClock
) -> None:
    await two_people(service, clock)
    url = service.app[SETTINGS].tracker_database_url
    async with service.app[SESSIONS]() as session, retention.tracker_store(url) as store:
        exported = await privacy.export(session, store, EMILIE.upper(), actor="cli", now=clock())

    text = json.dumps(exported, ensure_ascii=False)
    assert "Martin" not in text and LUC not in text and "conv-2" not in text
    (account,) = exported["accounts"]
    assert (account["last_name"], account["email"]) == ("Lefèvre", EMILIE)
    assert account["consent"] == {
        "cgu_version": "2026-01",
        "accepted_at": account["consent"]["accepted_at"],
    }
    assert [d["account"] for d in exported["documents"]] == [account["login"]]
    assert {c["conversation_id"] for c in exported["conversations"]} == {"conv-1", "conv-old"}
    said = [line["text"] for c in exported["conversations"] for line in c["transcript"]]
    assert "Lefèvre" in said
    assert [e["kind"] for e in exported["emails"]] == ["activation"]


async def test_erase_deletes_everything_of_the_person_only(
    service: Service, clock: MovableClock
) -> None:
    path = await two_people(service, clock)
    url = service.app[SETTINGS].tracker_database_url
    async with service.app[SESSIONS]() as session, retention.tracker_store(url) as store:
        counts = await privacy.erase(session, store, EMILIE, actor="cli", now=clock())

    assert counts["accounts"] == 1 and counts["documents"] == 1 and counts["tracker_events"] == 3
    assert senders(path) == {"conv-2"}
    async with service.app[SESSIONS]() as session:
        emails = (await session.execute(select(Account.email))).scalars().all()
        documents = (await session.execute(select(Document.conversation_id))).scalars().all()
        entries = await audit.entries(session)
    assert emails == [LUC] and documents == ["conv-2"]
    (entry,) = [e for e in entries if e.action == audit.PRIVACY_ERASE]
    assert entry.subject == audit.email_subject(EMILIE) and entry.actor == "cli"
    assert EMILIE not in json.dumps([audit.as_dict(e) for e in entries])


async def test_a_cancel_erases_the_conversation_s_unclaimed_documents(
    service: Service, clock: MovableClock
) -> None:
    body = await registration_with_document(service, conversation_id="conv-9")
    status, answer = await service.post(
        "/api/v1/conversations/erase", {"conversation_id": "conv-9"}
    )
    erased = {"documents": 1, "uploads": 0, "handoffs": 0, "feedback": 0}
    assert (status, answer) == (200, {"erased": erased})
    status, _ = await service.post("/api/v1/registrations", body, headers={"Idempotency-Key": "k"})
    assert status != 201, "the document is gone"
    async with service.app[SESSIONS]() as session:
        (entry,) = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == audit.REGISTRATION_CANCELLED)
            )
        ).scalars()
    assert (entry.actor, entry.subject) == ("assistant", "conv-9")
