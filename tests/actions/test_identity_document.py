"""Step 4's validators with real files: uploaded to the real account service on
loopback and claimed by the conversation, or served by a messaging provider's media
host on loopback, downloaded and sent as they are; the service alone inspects them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions import identity
from actions.clients.account_service import AccountServiceClient
from actions.clients.attachments import AttachmentFetcher, OwnUploads
from actions.registration_form import ValidateRegistrationForm
from bot.documents import DocumentRefused, inspect_document
from bot.identifiers import new_web_conversation_id
from bot.web import keys
from tests.actions.conftest import said, slot, slot_events, tracker, user
from tests.conftest import Service
from tests.corpus import Sample, build_corpus
from tests.e2e.chat import upload as upload_file

CORPUS = build_corpus()
# The conversations of the web channel, as Rasa names them (and the upload store binds).
CONVERSATION = new_web_conversation_id()
VICTIM = new_web_conversation_id()
# The upload store itself refuses an empty file (tested with the web process).
REFUSED = sorted(name for name, sample in CORPUS.items() if sample.code not in (None, "empty"))
# Answers of the earlier steps, which no step-4 message may change.
EARLIER = {
    "siren": "552100554",
    "contract_number": "AB123456",
    "company_confirmed": True,
    "last_name": "Lefèvre",
    "professional_phone": "+33142685300",
}


@pytest.fixture
async def media_host() -> AsyncIterator[MediaHost]:
    """A messaging provider's media host on loopback, serving the corpus's files."""
    app = web.Application()
    host = MediaHost(TestServer(app, host="127.0.0.1"))

    async def serve(request: web.Request) -> web.Response:
        host.requests.append(request.path)
        return web.Response(body=CORPUS[request.match_info["name"]].data)

    app.router.add_get("/media/{name}", serve)
    await host.server.start_server()
    yield host
    await host.server.close()


class MediaHost:
    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.requests: list[str] = []

    def attachment(self, name: str) -> dict[str, Any]:
        sample = CORPUS[name]
        return {
            "url": str(self.server.make_url(f"/media/{name}")),
            "filename": sample.filename,
            "content_type": None,
        }


@pytest.fixture
async def fetcher(media_host: MediaHost) -> AsyncIterator[AttachmentFetcher]:
    """The actions' fetcher, allowed to download the provider's media only."""
    fetcher = AttachmentFetcher(
        {str(media_host.server.make_url("/")): {}}, max_bytes=identity.DOCUMENT_MAX_BYTES
    )
    previous, identity._fetcher = identity._fetcher, fetcher
    yield fetcher
    identity._fetcher = previous
    await fetcher.close()


@pytest.fixture
def own_uploads(service: Service) -> Iterator[OwnUploads]:
    """Our own upload store is the service on loopback."""
    uploads = OwnUploads([service.base_url])
    previous, identity._uploads = identity._uploads, uploads
    yield uploads
    identity._uploads = previous


@pytest.fixture
def step4(
    live_client: AccountServiceClient, fetcher: AttachmentFetcher, own_uploads: OwnUploads
) -> None:
    """The account service client and its upload store on loopback, and the fetcher."""


async def upload(service: Service, sample: Sample, sender: str = CONVERSATION) -> dict[str, Any]:
    """The attachment object of `sample`, uploaded as the chat widget does."""
    status, attachment = await upload_file(service.http, service.base_url, sender, sample)
    assert status == 201, attachment
    return attachment


def sent(*attachments: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return user(
        "/send_document",
        "send_document",
        metadata={"attachments": list(attachments), **metadata},
    )


def earlier() -> list[dict[str, Any]]:
    return [slot(name, value) for name, value in EARLIER.items()]


async def validate(
    domain: dict, *events: dict[str, Any], sender: str = CONVERSATION
) -> tuple[dict, list[str]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateRegistrationForm().run(
        dispatcher, tracker(*events, sender=sender), domain
    )
    return slot_events(result), said(dispatcher)


async def stored_documents(service: Service) -> list[tuple[str, str, int | None]]:
    """(reference, side, account) of every document the service keeps."""
    async with service.app[keys.ENGINE].connect() as db:
        rows = await db.execute(
            text("SELECT reference, side, account_id FROM documents ORDER BY id")
        )
        return [tuple(row) for row in rows]


def card_chosen(country: str = "FR") -> list[dict[str, Any]]:
    return [*earlier(), slot("id_document_type", "cni"), slot("id_document_country", country)]


async def test_the_type_is_asked_with_buttons_and_a_card_needs_no_country(domain: dict) -> None:
    slots, messages = await validate(
        domain,
        *earlier(),
        slot("requested_slot", "id_document_type"),
        user('/inform{"document_type":"cni"}', entities={"document_type": "cni"}),
    )
    assert slots["id_document_type"] == "cni"
    assert slots["id_document_country"] == "FR"
    assert messages == []


async def test_a_passport_asks_for_its_country_unless_given(domain: dict) -> None:
    slots, _ = await validate(
        domain, slot("requested_slot", "id_document_type"), user("mon passeport")
    )
    assert (slots["id_document_type"], slots["id_document_country"]) == ("passport", None)

    slots, _ = await validate(
        domain, slot("requested_slot", "id_document_type"), user("un passeport portugais")
    )
    assert slots["id_document_country"] == "PT"


async def test_an_unaccepted_document_or_country_is_explained(domain: dict) -> None:
    slots, messages = await validate(
        domain, slot("requested_slot", "id_document_type"), user("mon permis de conduire")
    )
    assert slots["id_document_type"] is None
    assert "n'est pas accepté" in messages[0] and "titre de séjour" in messages[0]

    slots, messages = await validate(
        domain,
        slot("id_document_type", "passport"),
        slot("requested_slot", "id_document_country"),
        user("Royaume-Uni"),
    )
    assert slots["id_document_country"] is None
    assert "Union européenne" in messages[0]


async def test_a_card_front_then_back(domain: dict, service: Service, step4: None) -> None:
    front = await upload(service, CORPUS["png_scan"])
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(front)
    )
    assert slots["id_document"] is None
    assert slots["id_document_front"].startswith("doc_")
    assert messages == ["utter_document_front_received"]

    back = await upload(service, CORPUS["jpeg_photo_with_exif"])
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("id_document_front", slots["id_document_front"]),
        slot("requested_slot", "id_document"),
        sent(back),
    )
    assert len(slots["id_document"]) == 2
    assert slots["id_document_front"] is None
    assert messages == ["utter_document_received"]
    assert [side for _, side, _ in await stored_documents(service)] == ["front", "back"]


@pytest.mark.parametrize("pair", ["two files", "one PDF"])
async def test_both_sides_at_once(domain: dict, service: Service, step4: None, pair: str) -> None:
    if pair == "two files":
        files = [
            await upload(service, CORPUS["png_scan"]),
            await upload(service, CORPUS["jpeg_scan_uppercase_extension"]),
        ]
    else:
        files = [await upload(service, CORPUS["pdf_recto_verso"])]
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(*files)
    )
    assert len(slots["id_document"]) == len(files)
    assert messages == ["utter_document_received"]


@pytest.mark.parametrize("name", REFUSED)
async def test_each_refused_file_is_explained_and_nothing_else_is_lost(
    domain: dict, service: Service, step4: None, name: str
) -> None:
    sample = CORPUS[name]
    with pytest.raises(DocumentRefused) as expected:
        inspect_document(sample.data, sample.filename)
    attachment = await upload(service, sample)
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(attachment)
    )
    assert messages == [expected.value.message]
    assert slots["id_document"] is None
    assert slots["failed_attempts"] == {"id_document": 1}
    assert not set(slots) & set(EARLIER)  # earlier answers are untouched
    assert await stored_documents(service) == []


async def test_a_url_outside_the_allow_list_is_refused(
    domain: dict, service: Service, step4: None
) -> None:
    attachment = {
        "url": "http://192.0.2.1/cni.png",
        "filename": "cni.png",
        "content_type": "image/png",
    }
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(attachment)
    )
    assert slots["id_document"] is None
    assert "service d'envoi sécurisé" in messages[0]


async def test_text_instead_of_a_file_explains_how_to_send_it(domain: dict, step4: None) -> None:
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), user("je l'ai pas sur moi")
    )
    assert slots["id_document"] is None
    assert "bouton trombone" in messages[0]


async def test_a_second_upload_replaces_the_first(
    domain: dict, service: Service, step4: None
) -> None:
    first = await upload(service, CORPUS["pdf_recto_verso"])
    slots, _ = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(first)
    )
    (old,) = slots["id_document"]
    second = await upload(service, CORPUS["pdf_one_page"])
    slots, _ = await validate(
        domain,
        *card_chosen(),
        slot("id_document", [old]),
        slot("requested_slot", "cgu_accepted"),
        sent(second),
    )
    # A one-page PDF is the front only: the back is asked again.
    assert slots["id_document"] is None
    new = slots["id_document_front"]
    assert [reference for reference, _, _ in await stored_documents(service)] == [new]


async def test_a_refused_replacement_keeps_the_previous_document(
    domain: dict, service: Service, step4: None
) -> None:
    first = await upload(service, CORPUS["pdf_recto_verso"])
    slots, _ = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(first)
    )
    kept = slots["id_document"]
    bad = await upload(service, CORPUS["gif"])
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("id_document", kept),
        slot("requested_slot", "cgu_accepted"),
        sent(bad),
    )
    assert slots["id_document"] == kept
    assert messages[-1] == "utter_previous_document_kept"
    assert "GIF" in messages[0]


async def test_a_file_sent_before_the_type_is_examined_once_it_is_known(
    domain: dict, service: Service, step4: None
) -> None:
    early = await upload(service, CORPUS["jpeg_scan_uppercase_extension"])
    slots, messages = await validate(
        domain, *earlier(), slot("requested_slot", "job_title"), sent(early)
    )
    assert [item["url"] for item in slots["pending_attachments"]] == [early["url"]]
    assert messages == ["utter_document_kept_for_later"]

    slots, messages = await validate(
        domain,
        *earlier(),
        slot("pending_attachments", [early]),
        slot("requested_slot", "id_document_type"),
        user("passeport italien"),
    )
    assert slots["id_document_country"] == "IT"
    assert len(slots["id_document"]) == 1
    assert slots["pending_attachments"] is None
    assert messages == ["utter_document_received"]


async def test_changing_the_document_forgets_the_stored_one(
    domain: dict, service: Service, step4: None
) -> None:
    first = await upload(service, CORPUS["pdf_recto_verso"])
    slots, _ = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(first)
    )
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("id_document", slots["id_document"]),
        slot("requested_slot", "summary_confirmed"),
        user("je veux changer de pièce d'identité", "change_field", {"field": "id_document"}),
    )
    assert slots["id_document_type"] is None and slots["id_document"] is None
    assert messages == []
    assert await stored_documents(service) == []


# Documents go one way: an upload is claimed by its conversation, once.


async def read_upload(service: Service, attachment: dict[str, Any]) -> int:
    """The status of reading the upload back from the store (200 while it exists)."""
    async with await service.call("GET", attachment["url"].removeprefix(service.base_url)) as got:
        return got.status


async def test_an_upload_of_this_conversation_is_claimed_once(
    domain: dict, service: Service, step4: None
) -> None:
    attachment = await upload(service, CORPUS["pdf_recto_verso"])
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(attachment)
    )
    assert messages == ["utter_document_received"]
    ((reference, side, _),) = await stored_documents(service)
    assert slots["id_document"] == [reference] and side == "full"
    assert await read_upload(service, attachment) == 404  # consumed by the claim

    # Sent again (a replayed message): refused, and the stored document stays.
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(attachment)
    )
    assert slots["id_document"] is None and messages[0]
    assert [row[0] for row in await stored_documents(service)] == [reference]


async def test_an_upload_of_another_conversation_is_refused_and_kept_for_its_owner(
    domain: dict, service: Service, step4: None
) -> None:
    victims = await upload(service, CORPUS["png_scan"], sender=VICTIM)
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(victims)
    )
    assert slots["id_document"] is None and slots.get("id_document_front") is None
    assert slots["failed_attempts"] == {"id_document": 1}
    assert not set(slots) & set(EARLIER)
    assert await stored_documents(service) == []
    # The same French answer as for a token that never existed: nothing to learn.
    unknown = {**victims, "url": victims["url"].rsplit("/", 1)[0] + "/" + "A" * 43}
    _, unknown_messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(unknown)
    )
    assert messages == unknown_messages
    assert "é" in messages[0] or "è" in messages[0]  # the service's French message

    # The victim's own conversation still gets its file.
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("requested_slot", "id_document"),
        sent(victims),
        sender=VICTIM,
    )
    assert messages == ["utter_document_front_received"]
    assert len(await stored_documents(service)) == 1


async def test_our_own_origin_is_never_fetched_outside_the_upload_store(
    domain: dict, service: Service, step4: None
) -> None:
    attachment = {"url": f"{service.base_url}/api/v1/openapi.yaml", "filename": "cni.pdf"}
    slots, messages = await validate(
        domain, *card_chosen(), slot("requested_slot", "id_document"), sent(attachment)
    )
    assert slots["id_document"] is None
    assert "service d'envoi sécurisé" in messages[0]


# A messaging provider's media: downloaded, sent as it is, inspected by the service.


async def test_a_providers_media_is_downloaded_and_stored(
    domain: dict, service: Service, step4: None, media_host: MediaHost
) -> None:
    _, messages = await validate(
        domain,
        *card_chosen(),
        slot("requested_slot", "id_document"),
        sent(media_host.attachment("pdf_recto_verso")),
    )
    assert messages == ["utter_document_received"]
    assert media_host.requests == ["/media/pdf_recto_verso"]
    assert [side for _, side, _ in await stored_documents(service)] == ["full"]


async def test_a_refused_providers_media_is_explained_by_the_service(
    domain: dict, service: Service, step4: None, media_host: MediaHost
) -> None:
    sample = CORPUS["gif"]
    with pytest.raises(DocumentRefused) as expected:
        inspect_document(sample.data, sample.filename)
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("requested_slot", "id_document"),
        sent(media_host.attachment("gif")),
    )
    assert messages == [expected.value.message]
    assert slots["id_document"] is None
    assert await stored_documents(service) == []


# The client's address, put in the metadata by the public web channels.


@pytest.mark.parametrize("address", ["203.0.113.7", "2001:db8::7", 42, None])
async def test_a_message_with_a_client_address_is_served_as_any_other(
    domain: dict, service: Service, step4: None, address: Any
) -> None:
    attachment = await upload(service, CORPUS["pdf_recto_verso"])
    metadata = {} if address is None else {"client_address": address}
    slots, messages = await validate(
        domain,
        *card_chosen(),
        slot("requested_slot", "id_document"),
        sent(attachment, **metadata),
    )
    assert messages == ["utter_document_received"]
    assert len(slots["id_document"]) == 1
