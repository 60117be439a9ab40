"""Answers to « Ces informations vous ont-elles été utiles ? », asked at the end of a
conversation: one per conversation (a later answer replaces the first), and the
satisfaction rate the agent console shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Feedback
from bot.schemas import FeedbackIn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    feedback_id: int
    created: bool


async def record(session: AsyncSession, answer: FeedbackIn, now: datetime) -> Recorded:
    """Store the conversation's answer, or replace the one it gave before."""
    for _ in range(2):  # a concurrent first answer of the same conversation: update it
        existing = (
            await session.execute(
                select(Feedback.id).where(Feedback.conversation_id == answer.conversation_id)
            )
        ).scalar_one_or_none()
        if existing is not None:
            await session.execute(
                update(Feedback)
                .where(Feedback.id == existing)
                .values(useful=answer.useful, comment=answer.comment, answered_at=now)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            log.info("feedback %d replaced", existing)
            return Recorded(existing, False)
        row = Feedback(
            conversation_id=answer.conversation_id,
            useful=answer.useful,
            comment=answer.comment,
            created_at=now,
            answered_at=now,
        )
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            continue
        log.info("feedback %d recorded", row.id)
        return Recorded(row.id, True)
    raise RuntimeError("feedback neither inserted nor updated")  # pragma: no cover


@dataclass(frozen=True)
class Satisfaction:
    """Answers given since a moment, and how many said the information was useful."""

    answered: int
    useful: int

    @property
    def rate(self) -> float | None:
        return self.useful / self.answered if self.answered else None

    def text(self) -> str | None:
        """'83 % (5 sur 6)', with French no-break spaces; None without answers."""
        if self.rate is None:
            return None
        return f"{round(self.rate * 100)}\u00a0% ({self.useful} sur {self.answered})"


async def satisfaction(session: AsyncSession, since: datetime) -> Satisfaction:
    """The answers whose latest change is after `since`."""
    answered, useful = (
        await session.execute(
            select(
                func.count(Feedback.id),
                func.coalesce(func.sum(case((Feedback.useful.is_(True), 1), else_=0)), 0),
            ).where(Feedback.answered_at > since)
        )
    ).one()
    return Satisfaction(int(answered), int(useful))
