"""Every use of a library's private API, in one place, each with the reason it is needed.

Private attributes change without notice between releases. Keeping them here means one module
to check on an upgrade, and tests/unit/test_private_api.py fails when the locked version of
aiokafka changes under these functions (it pins the versions they were written against and
checks that each attribute still exists). Nothing here is applied at import: a service calls
`tune_aiokafka()` at start-up when it wants it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiokafka
from aiokafka.errors import KafkaError
from aiokafka.producer import sender as aiokafka_sender

# The versions these functions were written against; the test fails if uv.lock moves.
AIOKAFKA_VERSION = "0.14.0"

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


def installed_aiokafka() -> str:
    return str(aiokafka.__version__)
