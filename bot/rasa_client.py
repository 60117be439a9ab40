"""Client of the Rasa server's HTTP API (`rasa run --enable-api`), for the agent console.

The console reads a conversation's transcript, pauses it while an advisor answers,
writes the advisor's messages into it (Rasa pushes them to the user's channel, the
socket.io widget in real time) and hands it back to the assistant.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.errors import AssistantUnavailable
from bot.identifiers import WEB_CONVERSATION_ID
from bot.local_secrets import rasa_token

log = logging.getLogger(__name__)

HANDBACK_INTENT = "EXTERNAL_advisor_handback"
# A queued handoff became a ticket (waited too long, closing time): the assistant resumes.
TICKET_INTENT = "EXTERNAL_handoff_ticket"
# Shown instead of any message that carried a file: never its URL, name or content.
ATTACHMENT_PLACEHOLDER = "📎 Fichier envoyé (non affiché)"
_DOCUMENT_COMMAND = "/send_document"
RESUME_EVENTS = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
# The text of a user event that Rasa's trigger_intent created, as "EXTERNAL: <intent>".
EXTERNAL_PREFIX = "EXTERNAL: "


@dataclass(frozen=True)
class TranscriptMessage:
    """One message of a conversation: `kind` is `user`, `bot` or `advisor`."""

    kind: str
    text: str
    timestamp: datetime | None
    advisor: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "advisor": self.advisor,
        }


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    return None


def _carries_file(event: dict[str, Any]) -> bool:
    text = event.get("text")
    metadata = event.get("metadata")
    return (isinstance(text, str) and text.strip().startswith(_DOCUMENT_COMMAND)) or (
        isinstance(metadata, dict) and bool(metadata.get("attachments"))
    )


def _button_titles(event: dict[str, Any]) -> dict[str, str]:
    """The payloads of a bot message's buttons, with the titles the user saw."""
    data = event.get("data")
    buttons = data.get("buttons") if isinstance(data, dict) else None
    return {
        button["payload"]: button["title"]
        for button in buttons or []
        if isinstance(button, dict)
        and isinstance(button.get("payload"), str)
        and isinstance(button.get("title"), str)
    }


def transcript_from_events(events: list[Any]) -> list[TranscriptMessage]:
    """The user and bot messages of a tracker's events, files replaced by a placeholder,
    a button shown by its title, the console's own external intents left out."""
    messages = []
    offered: dict[str, str] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("event") not in ("user", "bot"):
            continue
        when = _timestamp(event.get("timestamp"))
        if event["event"] == "user":
            text = event.get("text")
            if _carries_file(event):
                messages.append(TranscriptMessage("user", ATTACHMENT_PLACEHOLDER, when))
            elif isinstance(text, str) and text.startswith(EXTERNAL_PREFIX):
                continue
            elif isinstance(text, str) and text in offered:
                messages.append(TranscriptMessage("user", f"🔘 {offered[text]}", when))
            elif isinstance(text, str):
                messages.append(TranscriptMessage("user", text, when))
            offered = {}  # buttons answer the message right before
            continue
        offered = _button_titles(event) or offered
        text = event.get("text")
        if not isinstance(text, str) or not text:
            continue  # a bot event of buttons or images alone, or a custom payload
        metadata = event.get("metadata")
        advisor = metadata.get("advisor") if isinstance(metadata, dict) else None
        if isinstance(advisor, str) and advisor:
            messages.append(TranscriptMessage("advisor", text, when, advisor))
        else:
            messages.append(TranscriptMessage("bot", text, when))
    return messages


class RasaClient:
    """Calls to one Rasa server through one shared aiohttp session with a timeout.

    Every failure (connection refused, timeout, an error status) is raised as
    `AssistantUnavailable`, whose French message the console shows as is.
    """

    def __init__(self, base_url: str, token: str | None, http: aiohttp.ClientSession) -> None:
        self._base = base_url.rstrip("/")
        # Rasa's API always needs a token: without a configured one, the local generated one.
        self._token = token or rasa_token()
        self._http = http

    def _url(self, conversation_id: str, action: str) -> str:
        return f"{self._base}/conversations/{quote(conversation_id, safe='')}/{action}"

    def _params(self, **params: str) -> dict[str, str]:
        if self._token:
            params["token"] = self._token
        return params

    async def _call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        try:
            async with self._http.request(method, url, **kwargs) as response:
                if response.status >= 400:
                    log.warning("Rasa answered %d to %s", response.status, what)
                    raise AssistantUnavailable()
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            log.warning("Rasa unreachable for %s: %s", what, type(error).__name__)
            raise AssistantUnavailable() from None

    async def transcript(self, conversation_id: str) -> list[TranscriptMessage]:
        """The messages of the conversation since its last restart.

        Raises:
            AssistantUnavailable: Rasa did not answer or refused.
        """
        state = await self._call(
            "GET",
            self._url(conversation_id, "tracker"),
            "tracker",
            params=self._params(),
        )
        events = state.get("events") if isinstance(state, dict) else None
        return transcript_from_events(events if isinstance(events, list) else [])

    async def append_events(
        self, conversation_id: str, events: list[dict[str, Any]], *, side_effects: bool = False
    ) -> None:
        """Append events to the tracker; with `side_effects`, bot events are also sent to
        the user (see `_output_channel`).

        Raises:
            AssistantUnavailable: Rasa did not answer or refused.
        """
        params = (
            self._params(
                execute_side_effects="true", output_channel=_output_channel(conversation_id)
            )
            if side_effects
            else self._params()
        )
        await self._call(
            "POST",
            self._url(conversation_id, "tracker/events"),
            "events",
            params=params,
            json=events,
        )

    async def send_advisor_message(self, conversation_id: str, text: str, advisor: str) -> None:
        """Send `text` to the user now, recorded as a bot message signed by `advisor`."""
        await self.append_events(
            conversation_id,
            [{"event": "bot", "text": text, "metadata": {"advisor": advisor}}],
            side_effects=True,
        )

    async def pause(self, conversation_id: str) -> None:
        """Stop the assistant from answering the user."""
        await self.append_events(conversation_id, [{"event": "pause"}])

    async def resume(self, conversation_id: str) -> None:
        """Let the assistant answer the user again.

        A paused conversation ends on the action that paused it, with the user's messages
        to the advisor after it; the assistant listens again from here, so that the next
        message (or the handback intent) is predicted as an answer to a listening bot.
        """
        await self.append_events(conversation_id, RESUME_EVENTS)

    async def trigger(
        self, conversation_id: str, intent: str, entities: dict[str, str] | None = None
    ) -> None:
        """Let the assistant answer `intent` as if the user had said it; its answer goes
        to the user (see `_output_channel`).

        Raises:
            AssistantUnavailable: Rasa did not answer or refused.
        """
        body: dict[str, Any] = {"name": intent}
        if entities:
            body["entities"] = entities
        await self._call(
            "POST",
            self._url(conversation_id, "trigger_intent"),
            "trigger_intent",
            params=self._params(output_channel=_output_channel(conversation_id)),
            json=body,
        )

    async def hand_back(self, conversation_id: str) -> None:
        """Resume the conversation and trigger the assistant's handback intent: it says it
        is back and goes on with the registration where it stopped."""
        await self.resume(conversation_id)
        await self.trigger(conversation_id, HANDBACK_INTENT)

    async def queue_timed_out(self, conversation_id: str, entities: dict[str, str]) -> None:
        """Resume the conversation and let the assistant say that the request became a
        ticket (`entities`: `opens_at`, when the advisors are back, if known)."""
        await self.resume(conversation_id)
        await self.trigger(conversation_id, TICKET_INTENT, entities)


def _output_channel(conversation_id: str) -> str:
    """Where Rasa sends an advisor's messages: a web conversation's widget is in its
    socket.io room whichever channel its last message took (it may have written over the
    REST fallback before socket.io came back); other conversations get their latest
    channel (Telegram, WhatsApp, Messenger)."""
    return "socketio" if WEB_CONVERSATION_ID.fullmatch(conversation_id) else "latest"
