"""Any instance answers any mutation: the router takes a command to its partition's owner.

A product's partition is the one Kafka's default partitioner gives its id as record key
(murmur2, as in the Java client), so a product's events, its changelog record and its commands
all meet at one partition and one owner. The owner is this instance (the partition's writer
decides the command) or another one (the command is forwarded over HTTP and that instance's
answer is relayed unchanged, errors and extensions included). While nobody owns the partition
(a rebalance, a takeover after a crash) the command waits for the group to settle, up to the
command timeout, then fails with SERVICE_UNAVAILABLE (retriable).

Waiting and re-routing are safe because a command that was not decided wrote nothing, and one
whose fate is unknown (its owner died while answering) is retried with its own commandId: the
next owner restores the product's recent commands from the changelog and answers the retry with
the first answer if it landed.
"""

from __future__ import annotations

import logging
import time

from aiokafka.partitioner import murmur2
from prometheus_client import Counter

from services.command.ownership import Ownership
from services.command.partition_writer import PartitionWriter
from services.command.planning import IssuedCommand
from services.command.ports import Forwarder, OwnerMoved, OwnerUnreachable
from services.command.write_state import Answer
from shared.errors import CatalogError, ServiceUnavailable

log = logging.getLogger(__name__)

COMMANDS = Counter("catalog_commands_total", "Commands handled", ["command", "outcome"])
FORWARDED = Counter(
    "catalog_commands_forwarded_total", "Commands handed to the instance that owns them"
)
REROUTES = Counter(
    "catalog_command_reroutes_total", "Times a command was routed again (owner moved or away)"
)


def partition_for(product_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for the product id as record key."""
    return int(murmur2(product_id.encode()) & 0x7FFFFFFF) % partitions


class CommandRouter:
    def __init__(
        self, ownership: Ownership, forwarder: Forwarder, partitions: int, timeout_s: float
    ) -> None:
        self._ownership = ownership
        self._forwarder = forwarder
        self.partitions = partitions  # the event topic's partition count, as the cluster has it
        self._timeout_s = timeout_s

    async def handle(self, request: IssuedCommand, authorization: str | None) -> Answer:
        """The answer to a command, from whichever instance owns its product.

        Raises DomainError (refused, nothing written) or ServiceUnavailable (retriable).
        `authorization` is the caller's credential, presented again to the owner when the
        command is forwarded.
        """
        kind = type(request.command).__name__
        try:
            answer = await self._route(request, authorization)
        except CatalogError as exc:
            COMMANDS.labels(kind, exc.code).inc()
            raise
        COMMANDS.labels(kind, "ok").inc()
        return answer

    async def decide_here(self, request: IssuedCommand) -> Answer:
        """A command forwarded by another instance: decided here, or OwnerMoved if this
        instance does not own its partition (the sender routes it again). Never forwarded on,
        so two instances with different views of the group cannot bounce a command forever."""
        partition = partition_for(request.command.id, self.partitions)
        route = self._ownership.route(partition)
        if not isinstance(route, PartitionWriter):
            raise OwnerMoved(f"partition {partition} is not owned here")
        return await route.submit(request, self._timeout_s)

    async def _route(self, request: IssuedCommand, authorization: str | None) -> Answer:
        partition = partition_for(request.command.id, self.partitions)
        deadline = time.monotonic() + self._timeout_s
        unknown: OwnerUnreachable | None = None  # a forward that may have reached its owner
        while (remaining := deadline - time.monotonic()) > 0:
            route = self._ownership.route(partition)
            if self._ownership.suspect:
                raise ServiceUnavailable(
                    "this command-service instance was paused and may have been replaced; it "
                    "is rejoining its group. Nothing was written. Retry"
                )
            try:
                if isinstance(route, PartitionWriter):
                    return await route.submit(request, remaining)
                if isinstance(route, str):
                    FORWARDED.inc()
                    return await self._forwarder.forward(route, request, authorization, remaining)
            except OwnerMoved:
                REROUTES.inc()
            except OwnerUnreachable as exc:
                REROUTES.inc()
                if not exc.outcome_known:
                    unknown = exc
                log.info("owner of partition %d unreachable: %s", partition, exc)
            # Nobody owns the partition now, or its owner moved or is away: wait for the group.
            await self._ownership.changed(min(remaining, 0.5))
        if unknown is not None:
            raise ServiceUnavailable(
                "the owner of this product did not answer; the outcome is unknown. "
                "Retry with the same commandId to learn it",
                commandId=request.command.command_id,
            )
        raise ServiceUnavailable(
            f"no command-service instance owns partition {partition} right now (the group is "
            "rebalancing); nothing was written. Retry"
        )
