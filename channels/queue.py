"""Leaving the advisor queue: « Revenir à l'assistant » while the conversation waits for
an advisor.

A queued conversation is paused (`action_handoff`), and Rasa's `MessageProcessor`
ignores every message of a paused conversation but `/restart`: the button of the queued
message (payload `/leave_queue`) would be logged and never answered. So `install()`
wraps `Agent.handle_message`, which every input channel calls: a message of a paused
conversation that asks to leave the queue (`is_leave_request`: the payload, or one of a
few unambiguous phrases) is first told to the account service
(`POST /api/v1/handoffs/leave`), which closes the waiting handoff (`left`). Then, under
the conversation's lock, the message is logged, the conversation resumed and the intent
`EXTERNAL_queue_left` triggered, as the agent console's hand-back triggers
`EXTERNAL_advisor_handback`: the assistant says so and asks its question again, on the
channel the message came from (the REST answer, the widget's socket, Telegram…).

When an advisor has already taken the conversation, the message goes to the advisor as
any other. When the account service cannot be reached, the person is told the service
is momentarily unavailable (`UNAVAILABLE_TEXT`), and stays in the queue.

The account service is `ACCOUNT_SERVICE_URL` (else the web process on this machine,
`http://127.0.0.1:$WEB_PORT`) with the token `ACCOUNT_API_TOKEN`, as for the action
server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from channels.resilience import UNAVAILABLE_TEXT

log = logging.getLogger(__name__)

LEAVE_PAYLOAD = "/leave_queue"
QUEUE_LEFT_INTENT = "EXTERNAL_queue_left"
TIMEOUT = aiohttp.ClientTimeout(total=5)
DEFAULT_DEV_TOKEN = "dev-local-token"  # bot.settings' (not imported: it loads too much)

# What the account service answered.
LEFT = "left"  # the waiting handoff is closed
TICKET = "ticket"  # a ticket stays open for the support cell; the assistant resumes
NO_HANDOFF = "none"  # nothing open: the pause is lifted all the same
WITH_ADVISOR = "advisor"  # an advisor took it: the message is for the advisor
UNAVAILABLE = "unavailable"

# Said alone, these can only mean leaving the queue (accents, case and punctuation aside).
_PHRASES = (
    "revenir à l'assistant",
    "revenir à l'assistant virtuel",
    "retourner à l'assistant",
    "retour à l'assistant",
    "continuer avec l'assistant",
    "continuer avec l'assistant virtuel",
    "quitter la file d'attente",
    "sortir de la file d'attente",
    "je ne veux plus attendre",
    "laissez tomber le conseiller",
    "laisse tomber le conseiller",
    "annuler la mise en relation",
)
# Words around them that change nothing: « finalement je préfère revenir à l'assistant, merci ».
_BEFORE = ("finalement", "non", "bon", "ok", "plutôt", "je veux", "je voudrais", "je préfère")
_AFTER = ("merci", "svp", "stp", "s'il vous plaît", "finalement", "plutôt")
_MAX_LENGTH = 120


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


PHRASES = frozenset(normalise(phrase) for phrase in _PHRASES)
BEFORE = tuple(normalise(word) + " " for word in _BEFORE)
AFTER = tuple(" " + normalise(word) for word in _AFTER)
_PAYLOAD = re.compile(r"\s*/leave_queue\s*(\{.*\})?\s*", re.DOTALL)


def is_leave_request(text: str | None) -> bool:
    """The payload `/leave_queue`, or a phrase of `_PHRASES` said alone."""
    if not isinstance(text, str) or len(text) > _MAX_LENGTH:
        return False
    if _PAYLOAD.fullmatch(text):
        return True
    words = normalise(text)
    changed = True
    while changed and words not in PHRASES:
        changed = False
        for prefix in BEFORE:
            if words.startswith(prefix):
                words, changed = words[len(prefix) :], True
        for suffix in AFTER:
            if words.endswith(suffix):
                words, changed = words[: -len(suffix)], True
    return words in PHRASES


class AccountService:
    """The account service's `POST /api/v1/handoffs/leave`, through one aiohttp session
    made on first use inside Rasa's event loop."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/handoffs/leave"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AccountService:
        env = dict(os.environ if env is None else env)
        default = f"http://127.0.0.1:{env.get('WEB_PORT') or 8000}"
        return cls(
            env.get("ACCOUNT_SERVICE_URL") or default,
            env.get("ACCOUNT_API_TOKEN") or DEFAULT_DEV_TOKEN,
        )

    async def leave_queue(self, conversation_id: str) -> str:
        """`LEFT`, `TICKET`, `NO_HANDOFF`, `WITH_ADVISOR` or `UNAVAILABLE`."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, headers=self._headers)
        try:
            async with self._session.post(
                self.url, json={"conversation_id": conversation_id}
            ) as response:
                if response.status == 404:
                    return NO_HANDOFF
                if response.status == 409:
                    return WITH_ADVISOR
                if response.status != 200:
                    log.warning("leaving the queue: account service answered %d", response.status)
                    return UNAVAILABLE
                body = await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            log.warning("leaving the queue: account service unreachable: %s", type(error).__name__)
            return UNAVAILABLE
        status = body.get("status") if isinstance(body, dict) else None
        return TICKET if status == TICKET else LEFT

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _collected(message: Any) -> list[dict[str, Any]] | None:
    from rasa.core.channels.channel import CollectingOutputChannel

    if isinstance(message.output_channel, CollectingOutputChannel):
        return message.output_channel.messages
    return None


async def handle_in_queue(
    processor: Any, message: Any, service: AccountService
) -> list[dict[str, Any]] | None:
    """`MessageProcessor.handle_message` for a leave request, the conversation's lock held."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, ConversationResumed

    tracker = await processor.get_tracker(message.sender_id)
    if not tracker.is_paused():
        return await processor.handle_message(message)
    outcome = await service.leave_queue(message.sender_id)
    if outcome == WITH_ADVISOR:
        return await processor.handle_message(message)
    if outcome == UNAVAILABLE:
        await processor.handle_message(message)
        await message.output_channel.send_text_message(message.sender_id, UNAVAILABLE_TEXT)
        return _collected(message)
    log.info("conversation left the advisor queue (%s)", outcome)
    resume = [ConversationResumed(), ActionExecuted(ACTION_LISTEN_NAME)]
    if QUEUE_LEFT_INTENT not in processor.domain.intents:
        # A model older than the intent: the message is answered as any other.
        for event in resume:
            tracker.update(event)
        await processor.save_tracker(tracker)
        return await processor.handle_message(message)
    tracker = await processor.log_message(message, should_save_tracker=False)
    for event in resume:
        tracker.update(event)
    await processor.trigger_external_user_uttered(
        QUEUE_LEFT_INTENT, None, tracker, message.output_channel
    )
    return _collected(message)


def leave_queue_first(
    handle_message: Callable[..., Awaitable[Any]], service: AccountService
) -> Callable[..., Any]:
    """`Agent.handle_message`, leave requests of paused conversations handled first."""

    @functools.wraps(handle_message)
    async def handle(self: Any, message: Any) -> Any:
        if not is_leave_request(message.text) or not self.is_ready():
            return await handle_message(self, message)
        async with self.lock_store.lock(message.sender_id):
            return await handle_in_queue(self.processor, message, service)

    handle.leaves_queue = True  # type: ignore[attr-defined]
    return handle


def install(service: AccountService | None = None) -> None:
    """Patch Rasa's `Agent` in this process (once)."""
    from rasa.core.agent import Agent

    if getattr(Agent.handle_message, "leaves_queue", False):
        return
    Agent.handle_message = leave_queue_first(
        Agent.handle_message, service or AccountService.from_env()
    )
