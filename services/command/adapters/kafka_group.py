"""Membership in the command instances' consumer group: who owns which partition.

The instances join one consumer group subscribed to the event topic, the way Kafka Streams
instances do. The group only assigns; nobody consumes through it (its partitions are paused):
a partition's owner reads the log through its own partition reader. A custom assignor
(`OwnersAssignor`) does two things the built-in ones cannot:

- every member's subscription carries its address and what it owned until now, and the leader
  computes a balanced, sticky assignment from them (services/command/assignment.py);
- every member's assignment carries the whole partition -> address map, so each instance knows
  where to forward the commands of partitions it does not own, without a registry of our own.

The assignment also carries an epoch, one more than the highest any member reported, so a
member's claim to partitions can be told apart from an older one (a paused zombie's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

from services.command.assignment import Member, assign, owners
from services.command.ownership import Ownership
from shared.adapters import private_api
from shared.settings import CommandSettings

log = logging.getLogger(__name__)


class OwnersAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Balanced sticky assignment, with the owners' addresses handed to every member."""

    name = "catalog-owners-v1"
    version = 0

    def __init__(self, url: str) -> None:
        self.url = url
        self.owned: frozenset[int] = frozenset()
        self.epoch = -1
        self.owners: dict[int, str] = {}

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        user_data = {"url": self.url, "owned": sorted(self.owned), "epoch": self.epoch}
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), orjson.dumps(user_data))

    def assign(
        self, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        topics = sorted({topic for metadata in members.values() for topic in metadata.subscription})
        if len(topics) != 1:
            raise ValueError(f"the command group subscribes to one topic, not {topics}")
        topic = topics[0]
        partitions = sorted(cluster.partitions_for_topic(topic) or ())
        known = {member_id: _member(metadata) for member_id, metadata in members.items()}
        result = assign(partitions, known)
        epoch = max((m.generation for m in known.values()), default=-1) + 1
        user_data = orjson.dumps(
            {"epoch": epoch, "owners": {str(p): url for p, url in owners(result, known).items()}}
        )
        return {
            member_id: ConsumerProtocolMemberAssignment(
                self.version, [(topic, sorted(parts))], user_data
            )
            for member_id, parts in result.items()
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        data = orjson.loads(assignment.user_data)
        self.epoch = int(data["epoch"])
        self.owners = {int(p): str(url) for p, url in data["owners"].items()}
        self.owned = frozenset(tp.partition for tp in assignment.partitions())


def _member(metadata: ConsumerProtocolMemberMetadata) -> Member:
    """A member as its subscription describes it (a member that says nothing owns nothing)."""
    try:
        data = orjson.loads(metadata.user_data or b"{}")
        return Member(
            str(data["url"]), frozenset(data.get("owned", ())), int(data.get("epoch", -1))
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("a member of the command group sent no usable address: %r", metadata.user_data)
        return Member("")


class GroupMembership:
    def __init__(self, settings: CommandSettings, ownership: Ownership) -> None:
        self._settings = settings
        self._ownership = ownership
        self._assignor = OwnersAssignor(settings.advertised_url)
        self._consumer: Any = None
        self._poll: asyncio.Task[None] | None = None

    async def start(self) -> None:
        settings = self._settings
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.command_group_id,
            client_id=f"{settings.command_group_id}-member",
            partition_assignment_strategy=(self._assignor,),
            session_timeout_ms=settings.command_session_timeout_ms,
            heartbeat_interval_ms=settings.command_heartbeat_interval_ms,
            # How long the group waits for every member to rejoin a rebalance: long enough for
            # a member to finish the append it has in flight (the writer's pause).
            rebalance_timeout_ms=max(settings.command_session_timeout_ms, 10_000),
            enable_auto_commit=False,
            auto_offset_reset="latest",
            isolation_level="read_committed",
        )
        await self._consumer.start()
        self._consumer.subscribe([settings.events_topic], listener=_Listener(self))
        self._poll = asyncio.create_task(self._keep_polling(), name="command-group")

    async def stop(self) -> None:
        """Leave the group (the others take over at once, without waiting for a timeout)."""
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
        if self._consumer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(self._consumer.stop(), 10)

    def rejoin(self) -> None:
        """Ask the group for a new assignment (after a writer found itself fenced: either this
        instance is a zombie that missed a rebalance, or the group must settle ownership)."""
        private_api.request_rejoin(self._consumer)

    async def reachable(self) -> bool:
        try:
            return await private_api.metadata_reachable(self._consumer)
        except (KafkaError, TimeoutError, AttributeError):
            return False

    async def _keep_polling(self) -> None:
        """Keep the membership alive: aiokafka leaves the group of a consumer that stops
        polling. Every partition is paused, so a poll fetches nothing."""
        while True:
            try:
                await self._consumer.getmany(timeout_ms=10_000)
            except KafkaError:
                log.warning("command group poll failed", exc_info=True)
                await asyncio.sleep(1)

    async def _revoked(self) -> None:
        await self._ownership.revoked()

    async def _assigned(self, partitions: set[TopicPartition]) -> None:
        self._consumer.pause(*partitions)
        self._assignor.owned = frozenset(tp.partition for tp in partitions)
        await self._ownership.assigned({tp.partition for tp in partitions}, self._assignor.owners)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, membership: GroupMembership) -> None:
        self._membership = membership

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._membership._revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._membership._assigned(assigned)
