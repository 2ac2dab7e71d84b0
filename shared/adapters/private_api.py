"""Every use of a library's private API, in one place, each with the reason it is needed.

Private attributes change without notice between releases. Keeping them here means one module
to check on an upgrade, and tests/unit/test_private_api.py fails when the locked version of
aiokafka, uvicorn or graphql-core changes under these functions (it pins the versions they were
written against and checks that each attribute still exists). Nothing here is applied at
import: a service calls `tune_aiokafka()` at start-up when it wants it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaError
from aiokafka.producer import sender as aiokafka_sender
from graphql.execution import Executor
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.execution.incremental.incremental_executor import IncrementalExecutor
from graphql.pyutils import RefMap
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The versions these functions were written against; the test fails if uv.lock moves.
AIOKAFKA_VERSION = "0.14.0"
UVICORN_VERSION = "0.54.0"
GRAPHQL_CORE_VERSION = "3.3.2"

# Right after a commit the broker is still writing that transaction's markers, and the next
# transaction's first AddPartitionsToTxn is refused with CONCURRENT_TRANSACTIONS until it is
# done, about a millisecond on a local broker. aiokafka then sleeps a fixed 20 ms (Java's
# figure) before asking again; retrying after 2 ms costs a few tiny requests instead and cut a
# mutation's p50 severalfold at a steady rate (bench/RESULTS.md). Module-wide in aiokafka.
TRANSACTION_RETRY_BACKOFF_S = 0.002


def tune_aiokafka() -> None:
    """Apply the transaction retry back-off above to every producer of this process."""
    aiokafka_sender.BACKOFF_OVERRIDE = TRANSACTION_RETRY_BACKOFF_S


async def wait_for_producer_id(producer: Any, timeout_s: float) -> None:
    """Wait until a transactional producer holds its producer id and epoch.

    aiokafka asks for them lazily, on the first send. Waiting here makes the fencing of every
    earlier holder of the transactional id happen now, before its owner reads any state, and
    not in the middle of the first append.
    """
    await asyncio.wait_for(producer._txn_manager.wait_for_pid(), timeout_s)


async def topic_partitions(client_owner: Any, topic: str) -> set[int]:
    """The partitions of `topic` from fresh cluster metadata (aiokafka's public
    `partitions_for_topic` only knows topics the client has already asked about)."""
    cluster = await client_owner._client.fetch_all_metadata()
    return set(cluster.partitions_for_topic(topic) or ())


async def metadata_reachable(client_owner: Any, timeout_s: float = 2) -> bool:
    """Whether the cluster answers a metadata request now (a consumer's or producer's client)."""
    client = getattr(client_owner, "client", None) or client_owner._client
    try:
        return bool(await asyncio.wait_for(client.force_metadata_update(), timeout_s))
    except (KafkaError, TimeoutError):
        return False


def request_rejoin(consumer: Any) -> None:
    """Make a group consumer rejoin its group at once (aiokafka has no public call for it)."""
    consumer._coordinator.request_rejoin()


# What graphql-core's `execute` uses when it is given no executor class (its module is not
# exported). Its `complete_value`, `collect_subfields` and `fragments` are private (":meta
# private:"): graphql_http/plain_completion.py overrides the first and uses the others.
QueryExecutor = IncrementalExecutor

# What graphql-core's `subscribe` uses when it is given no executor class (its module is not
# exported): a subscription executor of our own extends it (graphql_http/shared_events.py).
SubscriptionExecutor = ExecutorThrowingOnIncremental


def forget_subfield_memos(executor: Executor[Any]) -> None:
    """Give a per-event executor memos of its own, so they go with it after the event.

    graphql-core's per-event executor is a shallow copy of the subscription's, sharing the
    memos of collected sub-fields and stream usages, which are keyed by the identity of field
    lists that every event collects afresh: they never hit across events and grow by a few
    entries per event for the subscription's lifetime (each entry keeping its lists alive).
    """
    executor._relevant_sub_fields = {}
    executor._stream_usages = RefMap()


def coalescing_http_protocol() -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol writing each response in one send (below): pass it as
    uvicorn's `http=`. Subclassing it reaches into its connection handling, hence here."""
    return CoalescingHttpToolsProtocol


class CoalescingTransport(asyncio.Transport):
    """Sends what is written to it within one turn of the event loop as one write.

    uvicorn writes a response's head and its body separately, each a send() system call that
    also wakes the client, a cost per request measured in bench/RESULTS.md.
    The body follows the head within the same turn, so holding writes until the turn ends
    makes them one, and changes nothing else: bytes go out in the order written, at most one
    turn later, and closing sends what was held first.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a CoalescingTransport.

    A connection upgraded to a WebSocket gets the socket's own transport: its frames are not
    request/response pairs, and its protocol takes the transport over for good.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._socket_transport = transport
        self.transport = CoalescingTransport(transport, self.loop)

    def handle_websocket_upgrade(self) -> None:
        if isinstance(self.transport, CoalescingTransport):
            self.transport.flush()  # anything written before the upgrade goes first
        self.transport = self._socket_transport
        super().handle_websocket_upgrade()
