"""The command side's event store: the Kafka log plus the write model folded from it."""

from __future__ import annotations

import asyncio
import logging

from services.command.write_model import WriteModel
from shared.adapters.kafka_log import EventAppender, EventReader, ensure_topics
from shared.envelope import BadRecord, Envelope, Position
from shared.settings import CommandSettings

log = logging.getLogger(__name__)


class EventStore:
    def __init__(self, settings: CommandSettings, model: WriteModel) -> None:
        self._settings = settings
        self.model = model
        self._appender = self._new_appender()
        self._reader = EventReader(settings, client_id="catalog-command-fold")

    def _new_appender(self) -> EventAppender:
        return EventAppender(self._settings, self._settings.command_transactional_id)

    async def open(self) -> None:
        """Claim the log first, then fold it: after the claim nobody else can add to it."""
        await ensure_topics(self._settings)
        await self._appender.start()
        await self._reader.start()
        await self.catch_up()
        log.info("write model ready: %d products", len(self.model))

    async def close(self) -> None:
        await self._appender.stop()
        await self._reader.stop()

    async def append(self, envelopes: list[Envelope]) -> list[Position]:
        return await self._appender.append(envelopes)

    async def catch_up(self) -> None:
        async for item, position in self._reader.catch_up():
            if isinstance(item, BadRecord):
                log.warning("skipping a record that is not ours at %s: %s", position, item)
            else:
                self.model.apply(item, position)

    async def resync(self) -> None:
        """After an append of unknown outcome: reclaim the log (ending any open transaction) and fold what landed."""
        old, self._appender = self._appender, self._new_appender()
        try:
            await asyncio.wait_for(old.stop(), 5)
        except Exception:  # with Kafka away, flushing the failed producer may never end
            log.debug("stopping the failed producer", exc_info=True)
        await self._appender.start()
        await self.catch_up()

    async def reachable(self) -> bool:
        return await self._appender.reachable()
