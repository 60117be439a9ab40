"""What the messaging channels (Telegram, WhatsApp through Twilio, Messenger) share.

Each channel is Rasa's connector of the same name (so its URL, `/webhooks/<name>/webhook`,
and the tracker's `input_channel` stay Rasa's), with:

- its settings from credentials.yml, else from the environment; without them the channel
  stays disabled: its webhook answers 404 and nothing is sent (`make run` needs no token);
- the provider's signature checked on every webhook; a refused request is logged
  without its content;
- a user's photo or document turned into the message `/send_document` with
  `{"attachments": [{"url", "filename", "content_type"}]}` in its metadata, as the chat
  widget sends it (DESIGN.md); the action server fetches it from the provider's media
  host (actions/clients/attachments.py);
- the domain's buttons offered as the channel can (inline keyboard, numbered options,
  quick replies); an answer that is the number or the title of one of the options last
  offered becomes its payload (`chosen_payload`);
- an output that calls the provider's API with one aiohttp session, never blocking the
  Rasa server's loop (Rasa's connectors use blocking clients), at a configurable base
  URL so that tests play the provider on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

SEND_DOCUMENT = "/send_document"
TIMEOUT = aiohttp.ClientTimeout(total=15)
NUMBER = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")
# French typography: a no-break space before the colon.
ADVISOR_PREFIX = "{advisor}\u00a0: {text}"


def webhook_blueprint(
    name: str, enabled: bool, missing: str, close: Callable[[], Awaitable[None]]
) -> Blueprint:
    """What every channel's webhook blueprint has: one line at start-up when the channel
    is not configured (`missing` names what it lacks), its API session closed at stop,
    and `GET /` telling whether it is enabled. The channel adds its webhook routes."""
    webhook = Blueprint(name, __name__)

    @webhook.listener("after_server_start")
    async def announce(app: Any, _: Any) -> None:
        if not enabled:
            logger.info("%s", missing)

    @webhook.listener("after_server_stop")
    async def stop(app: Any, _: Any) -> None:
        await close()

    @webhook.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok" if enabled else "disabled"})

    return webhook


def not_configured() -> HTTPResponse:
    return response.text("not configured", status=404)


def refused(what: str, why: str) -> HTTPResponse:
    """403 for a request whose signature or token is wrong, logged without its content."""
    logger.warning("%s refused: %s", what, why)
    return response.text("forbidden", status=403)


def setting(
    credentials: Mapping[str, Any] | None, key: str, env: Mapping[str, str], variable: str
) -> str | None:
    """`key` of the channel's section in credentials.yml, else the environment's variable."""
    value = (credentials or {}).get(key)
    if value in (None, ""):
        value = env.get(variable)
    return str(value) if value not in (None, "") else None


def attachment(url: str, filename: str | None, content_type: str | None) -> dict[str, Any]:
    """One attachment object of DESIGN.md."""
    return {"url": url, "filename": filename, "content_type": content_type}


def with_advisor(text: str, kwargs: Mapping[str, Any]) -> str:
    """A message an advisor wrote in the agent console carries their name."""
    advisor = kwargs.get("advisor")
    if isinstance(advisor, str) and advisor:
        return ADVISOR_PREFIX.format(advisor=advisor, text=text)
    return text


def numbered(text: str, buttons: Sequence[Mapping[str, Any]]) -> str:
    """The question followed by its options, numbered from 1, for a channel without buttons."""
    options = "\n".join(
        f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, 1)
    )
    return f"{text}\n\n{options}\n\nRépondez par le numéro de votre choix."


def chunks(text: str, limit: int) -> list[str]:
    """The text in parts of at most `limit` characters, cut between paragraphs or lines
    when it can be."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not parts:
        parts.append(text)
    return parts


async def offered_buttons(app: Sanic, sender_id: str) -> list[dict[str, Any]]:
    """The buttons of the assistant's latest question to this user, if the user has not
    answered since; read from the tracker store, so a restart keeps them. Applied events
    only: a turn undone because the action server was unavailable does not count."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return []
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None:
        return []
    for event in reversed(tracker.applied_events()):
        if isinstance(event, UserUttered):
            return []
        if isinstance(event, BotUttered):
            buttons = (event.data or {}).get("buttons") or (event.data or {}).get("quick_replies")
            if buttons:
                return [button for button in buttons if isinstance(button, dict)]
    return []


def chosen_payload(text: str, buttons: Sequence[Mapping[str, Any]]) -> str | None:
    """The payload of the option the user answered with its number or its exact title."""
    match = NUMBER.fullmatch(text)
    if match and 1 <= int(match.group(1)) <= len(buttons):
        payload = buttons[int(match.group(1)) - 1].get("payload")
        return payload if isinstance(payload, str) else None
    wanted = text.strip().casefold()
    for button in buttons:
        title, payload = button.get("title"), button.get("payload")
        if isinstance(title, str) and isinstance(payload, str):
            if title.strip().casefold() == wanted:
                return payload
    return None


class ProviderApi:
    """One aiohttp session to a provider's API, made on first use inside Rasa's loop.

    Errors are logged by their type only: a provider's URL may carry a token."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._session: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        """The JSON answer of one call, or None when it failed (then logged)."""
        try:
            async with self.http().request(method, url, **kwargs) as response:
                if response.status >= 300:
                    logger.warning("%s %s answered %s", self.provider, what, response.status)
                    return None
                if response.content_type == "application/json":
                    return await response.json()
                return {}
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("%s %s failed: %s", self.provider, what, type(exc).__name__)
            return None
