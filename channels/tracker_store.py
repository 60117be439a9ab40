"""Rasa's SQL tracker store, with erasure: endpoints.yml names it
(`type: channels.tracker_store.ErasingSQLTrackerStore`).

An action erases its conversation by returning a `restart` event whose metadata holds
`{"erase": true}` (actions/account.py, « Annuler »). When a save brings that marker,
every stored row of the conversation is deleted and only the events from the marker on
are written, in one transaction: Rasa's own store would otherwise only append, and keep
the answers forever. On SQLite, every connection deletes securely (deleted rows are
overwritten with zeros) and the write-ahead log, if any, is checkpointed after an erase.
On PostgreSQL, the web process's periodic purge VACUUMs the table.

A conversation whose rows the purge deleted while one of its turns was in flight
(the person came back just then) stays deleted: that turn's save, which would write the
whole old session back, writes nothing.

A session that reaches `max_session_events` events (endpoints.yml; 0: no limit) is
carried over into a new one at the end of a turn (channels/sessions.py), so that a turn
costs the same at turn 200 as at turn 5.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, Restarted
from rasa.shared.core.trackers import DialogueStateTracker

from channels.sessions import DEFAULT_MAX_EVENTS, carry_over

log = logging.getLogger(__name__)

ERASE = "erase"
# A tracker holding events older than this while none is stored was loaded before a
# purge deleted it (no turn lasts this long: the lock store's lifetime is 60 s).
_TURN_LIMIT_SECONDS = 3600


def is_erase_marker(event: Event) -> bool:
    return isinstance(event, Restarted) and bool((event.metadata or {}).get(ERASE))


def erase_marker() -> dict[str, Any]:
    """The event an action returns to erase its conversation (a dict, as the SDK's)."""
    return {"event": Restarted.type_name, "timestamp": None, "metadata": {ERASE: True}}


class ErasingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that erases a conversation on the erase marker, and starts a new
    session when one grows too long."""

    def __init__(
        self, *args: Any, max_session_events: int | str = DEFAULT_MAX_EVENTS, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_session_events = int(max_session_events)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _secure_delete)
            self.engine.dispose()  # the connections opened so far lack the pragma

    async def save(self, tracker: DialogueStateTracker) -> None:
        markers = [index for index, event in enumerate(tracker.events) if is_erase_marker(event)]
        if not markers:
            for event in carry_over(tracker, self.max_session_events):
                tracker.update(event)
        await self.stream_events(tracker)
        events = list(tracker.events)
        marker = markers[-1] if markers else None
        erased = False
        with self.session_scope() as session:
            rows = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == tracker.sender_id)
            if marker is not None and not self._stored_first(rows, events[marker]):
                # This save brings the marker: forget every row, keep what follows it.
                rows.delete(synchronize_session=False)
                first_new, erased = marker, True
            elif marker is not None:
                # Saved again after its erase: the rows are the events from the marker on.
                first_new = marker + rows.count()
            else:
                # Rasa's rule: the rows since the session's start are the first events.
                first_new = self._event_query(
                    session, tracker.sender_id, fetch_events_from_all_sessions=False
                ).count()
                if first_new == 0 and _loaded_before_purge(events):
                    log.warning("conversation purged during a turn: the turn is not stored")
                    return
            for event in events[first_new:]:
                session.add(self._row(tracker.sender_id, event))
            session.commit()
        if erased:
            self._checkpoint()

    def _stored_first(self, rows: Any, marker: Event) -> bool:
        """Whether the conversation's first row is `marker` (its erase already happened)."""
        first = rows.order_by(self.SQLEvent.id).first()
        return (
            first is not None
            and first.type_name == Restarted.type_name
            and first.timestamp == marker.timestamp
        )

    def _row(self, sender_id: str, event: Event) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get("name"),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _checkpoint(self) -> None:
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            if str(mode).lower() == "wal":
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _loaded_before_purge(events: list[Event]) -> bool:
    timestamps = [event.timestamp for event in events if event.timestamp]
    return bool(timestamps) and min(timestamps) < time.time() - _TURN_LIMIT_SECONDS
