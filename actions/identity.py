"""Step 4 (first half): the identity document, its type, its issuing country, its file.

The type is asked first, then, for a passport, the issuing country; then the file
(or files: the front and the back of a card). A file reaches us as an attachment in
the user message's metadata. Documents go one way: a file of our own upload store is
never downloaded here, its token is sent to the account service, which gives it only
to the conversation that uploaded it; a provider's media is fetched from an
allow-listed origin only and its bytes sent as they are. The account service alone
inspects the file and stores it encrypted; only its reference goes in the tracker. A
file sent before the type is known is kept and examined as soon as it is.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics
from actions.clients.account_service import (
    AccountServiceError,
    StoredDocument,
    account_service,
    client_address,
)
from actions.clients.attachments import (
    NOT_ALLOWED,
    Attachment,
    AttachmentFetcher,
    AttachmentRefused,
    OwnUploads,
    attachments_of,
)
from actions.config import DOCUMENT_MAX_BYTES
from actions.documents_vocabulary import (
    DOCUMENT_LABELS,
    EU_COUNTRIES,
    TWO_SIDED,
    to_country,
    to_document_type,
)
from actions.form_base import BaseFormValidation
from actions.steps import announce_step

log = logging.getLogger(__name__)

MAX_FILES = 2
# Every slot of step 4's document, cleared together when the user starts it again.
DOCUMENT_SLOTS = ("id_document_type", "id_document_country", "id_document", "id_document_front")

_fetcher: AttachmentFetcher | None = None
_uploads: OwnUploads | None = None


def attachment_fetcher() -> AttachmentFetcher:
    """The process-wide fetcher, made on first use (inside the action server's loop)."""
    global _fetcher
    if _fetcher is None:
        _fetcher = AttachmentFetcher.from_env(max_bytes=DOCUMENT_MAX_BYTES)
    return _fetcher


def own_uploads() -> OwnUploads:
    """The URLs of our own upload store, claimed by reference instead of downloaded."""
    global _uploads
    if _uploads is None:
        _uploads = OwnUploads.from_env()
    return _uploads


def document_label(kind: str | None, country: str | None = None) -> str:
    label = DOCUMENT_LABELS.get(kind or "", "pièce d'identité")
    if kind == "passport" and country in EU_COUNTRIES:
        label += f" ({EU_COUNTRIES[country][0]})"
    return label


async def forget_documents(*references: str | None) -> None:
    """Delete stored documents the user replaced or abandoned (best effort)."""
    for reference in references:
        if reference:
            await account_service().delete_document(reference)


class ActionAskIdDocument(Action):
    """Asks for the file: the front and back of a card, the passport's photo page,
    or the back once the front is in."""

    def name(self) -> str:
        return "action_ask_id_document"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = announce_step("id_document", dispatcher, tracker)
        kind = tracker.get_slot("id_document_type")
        label = document_label(kind)
        if tracker.get_slot("id_document_front"):
            dispatcher.utter_message(response="utter_ask_id_document_back", document=label)
        elif kind == "passport":
            dispatcher.utter_message(response="utter_ask_id_document_passport")
        else:
            dispatcher.utter_message(response="utter_ask_id_document_card", document=label)
        return events


class IdentityDocumentValidation(BaseFormValidation):
    """Validators of the identity document's slots; abstract mixin."""

    async def extract_id_document_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "id_document_type":
            return {}
        chosen = self.entity(tracker, "document_type")  # a button
        if chosen:
            return {"id_document_type": chosen}
        return self.text_answer("id_document_type", tracker, entities=())

    async def validate_id_document_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """One of the accepted documents; a passport may come with its country."""
        if value is None:
            return {"id_document_type": None}
        try:
            kind, country = to_document_type(str(value))
        except ValueError as problem:
            return self.refuse("id_document_type", str(problem), dispatcher, tracker)
        result = {**self.accept("id_document_type", kind, tracker), "id_document_country": country}
        if kind != self.previous_value(tracker, "id_document_type"):
            # Another document: what was received for the previous one no longer counts.
            await forget_documents(*self._references(tracker))
            result.update(id_document=None, id_document_front=None)
        if country:
            result.update(await self._receive_pending(kind, country, dispatcher, tracker))
        return result

    async def extract_id_document_country(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.text_answer("id_document_country", tracker, entities=())

    async def validate_id_document_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A member state of the European Union, as its ISO code."""
        if value is None:
            return {"id_document_country": None}
        if value in EU_COUNTRIES:
            return self.accept("id_document_country", value, tracker)
        try:
            country = to_country(str(value))
        except ValueError as problem:
            return self.refuse("id_document_country", str(problem), dispatcher, tracker)
        result = self.accept("id_document_country", country, tracker)
        kind = tracker.get_slot("id_document_type")
        result.update(await self._receive_pending(kind, country, dispatcher, tracker))
        return result

    async def extract_id_document(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Files of the latest message, whatever question was asked; else the text
        of an answer to the file question (a refusal then explains how to send it)."""
        attachments = attachments_of(tracker.latest_message.get("metadata"))
        if attachments:
            return {"id_document": {"attachments": [vars(item) for item in attachments]}}
        return self.text_answer("id_document", tracker, entities=())

    async def validate_id_document(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Have the file(s) inspected and stored; a card needs its front and its back."""
        if value is None:
            # The user wants to change their document: start step 4 again.
            await forget_documents(*self._references(tracker))
            return dict.fromkeys(DOCUMENT_SLOTS)
        if not isinstance(value, dict):
            kind = tracker.get_slot("id_document_type")
            return self.refuse(
                "id_document",
                f"J'attends un fichier : une photo ou un scan de votre {document_label(kind)}. "
                "Envoyez-le avec le bouton trombone de la conversation (PNG, JPG ou PDF).",
                dispatcher,
                tracker,
            )
        if self._still_to_choose(tracker):
            dispatcher.utter_message(response="utter_document_kept_for_later")
            return {"id_document": None, "pending_attachments": value["attachments"]}
        attachments = attachments_of(value)
        return await self._receive(
            attachments,
            tracker.get_slot("id_document_type"),
            tracker.get_slot("id_document_country"),
            dispatcher,
            tracker,
        )

    @staticmethod
    def _still_to_choose(tracker: Tracker) -> bool:
        """Whether the document type or its country is still unknown."""
        return not (
            tracker.get_slot("id_document_type") and tracker.get_slot("id_document_country")
        )

    def _references(self, tracker: Tracker) -> list[str]:
        """The stored documents of this conversation before this message."""
        return [
            *(self.previous_value(tracker, "id_document") or []),
            self.previous_value(tracker, "id_document_front"),
        ]

    async def _receive_pending(
        self, kind: str, country: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Examine the files sent before the type and country were known."""
        pending = tracker.get_slot("pending_attachments") or []
        if not pending:
            return {}
        attachments = attachments_of({"attachments": pending})
        return {
            "pending_attachments": None,
            **await self._receive(attachments, kind, country, dispatcher, tracker),
        }

    async def _receive(
        self,
        attachments: list[Attachment],
        kind: str,
        country: str,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> dict[str, Any]:
        if len(attachments) > MAX_FILES:
            return self.refuse(
                "id_document",
                "Envoyez au plus deux fichiers : le recto et le verso de votre document.",
                dispatcher,
                tracker,
            )
        front = tracker.get_slot("id_document_front")
        previous = self.previous_value(tracker, "id_document") or []
        stored: list[StoredDocument] = []
        for index, attachment in enumerate(attachments):
            side = self._side(kind, front, len(attachments), index)
            try:
                stored.append(await self._store(attachment, kind, country, side, tracker))
            except (AttachmentRefused, AccountServiceError) as refusal:
                # The service's French message (a refused file, an upload that is not
                # this conversation's, an outage) is shown as it is.
                await forget_documents(*(document.reference for document in stored))
                if previous:  # a failed replacement keeps the document received before
                    metrics.refused(refusal.code)
                    dispatcher.utter_message(text=refusal.message)
                    dispatcher.utter_message(response="utter_previous_document_kept")
                    return {"id_document": previous}
                return self.refuse(
                    "id_document", refusal.message, dispatcher, tracker, reason=refusal.code
                )
        # A new file replaces what was complete before.
        await forget_documents(*previous)
        label = document_label(kind, country)
        references = [document.reference for document in stored]
        # A front alone, unless the service found both sides in one PDF (side "full").
        only = stored[0] if len(stored) == 1 else None
        if kind in TWO_SIDED and front is None and only and only.side == "front" and only.pages < 2:
            dispatcher.utter_message(response="utter_document_front_received", document=label)
            return {"id_document": None, "id_document_front": references[0]}
        references = [front, *references] if front else references
        dispatcher.utter_message(response="utter_document_received", document=label)
        metrics.step_completed("document", tracker)
        return {
            **self.accept("id_document", references, tracker),
            "id_document_front": None,
        }

    @staticmethod
    def _side(kind: str, front: str | None, count: int, index: int) -> str:
        if kind not in TWO_SIDED:
            return "full"
        if front:
            return "back"
        if count == 2:
            return ("front", "back")[index]
        return "front"

    async def _store(
        self, attachment: Attachment, kind: str, country: str, side: str, tracker: Tracker
    ) -> StoredDocument:
        """Our own upload by its token; a provider's media by its bytes, unread here."""
        address = client_address(tracker.latest_message)
        uploads = own_uploads()
        token = uploads.token_of(attachment.url)
        if token is not None:
            document = await account_service().claim_upload(
                token,
                conversation_id=tracker.sender_id,
                document_type=kind,
                country=country,
                side=side,
                client_address=address,
            )
        elif uploads.is_own(attachment.url):
            # Our own web process, but not an upload: never requested.
            log.warning("attachment refused: not an upload of our own store")
            raise AttachmentRefused("not_allowed", NOT_ALLOWED)
        else:
            data = await attachment_fetcher().fetch(attachment.url)
            document = await account_service().store_document(
                data,
                filename=attachment.filename,
                content_type=attachment.content_type,
                conversation_id=tracker.sender_id,
                document_type=kind,
                country=country,
                side=side,
                client_address=address,
            )
        log.info("identity document stored (%s, %d page(s))", document.content_type, document.pages)
        return document
