"""Transactional outbox: messages written with the database change that causes them, published after."""

import asyncio
from datetime import datetime

from sqlalchemy import LargeBinary, delete, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus
from lgsp.db import Database, UTCDateTime
from monitoring.metrics import OUTBOX_BACKLOG, OUTBOX_SENT
from schemas.common import utcnow
from schemas.messages import Message, encode


class OutboxMessage(SQLModel, table=True):
    """A message waiting to be published; deleted once the broker acknowledged it."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=249)
    key: str | None = Field(default=None, max_length=200)
    value: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def enqueue(session: AsyncSession, topic: str, message: Message, key: str | None = None) -> None:
    """Add a message to the outbox inside the caller's transaction; it is signed and sent after the
    commit."""
    session.add(OutboxMessage(topic=topic, key=key, value=encode(message)))


class OutboxRelay(Component):
    """Publishes the outbox in order; a broker outage only delays it."""

    def __init__(self, database: Database, bus: Bus, interval: float = 0.5, batch: int = 500) -> None:
        self.database = database
        self.bus = bus
        self.interval = interval
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a drain now (after a commit that enqueued something)."""
        self._wake.set()

    def background(self) -> list[Background]:
        """Drain on wake-up or every `interval` seconds; a full batch is followed by the next at once."""
        return [
            Every("outbox", self.interval, self.drain, again=lambda sent: sent == self.batch, wake=self._wake)
        ]

    async def drain(self) -> int:
        """Publish one batch and delete it; rows are locked so several hubs never send the same batch."""
        async with self.database.sessions() as session, session.begin():
            rows = (
                await session.exec(
                    select(OutboxMessage)
                    .order_by(col(OutboxMessage.id))
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                async with asyncio.timeout(15):
                    # Signed when sent, by this process's key: stored unsigned, a row carries no
                    # signature of a key rotated out meanwhile.
                    await self.bus.send_all(
                        (r.topic, self.bus.signer.seal_json(r.value), r.key) for r in rows
                    )
                await session.exec(
                    delete(OutboxMessage).where(col(OutboxMessage.id).in_([r.id for r in rows]))
                )
                OUTBOX_SENT.inc(len(rows))
            backlog = await session.scalar(select(func.count()).select_from(OutboxMessage))
            OUTBOX_BACKLOG.set(backlog or 0)
            return len(rows)
