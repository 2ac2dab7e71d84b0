"""What every fuzz case must satisfy, and the ledger that ties appended events to answers.

A response must be a GraphQL response (`data` and/or a non-empty `errors` list), and every error
must carry an `extensions.code` of the documented set (docs/architecture.md, "Contracts"; README
"Errors"). The fuzz is stricter than the contract in one respect: it runs against a healthy
Kafka and MongoDB, where INTERNAL_SERVER_ERROR (a resolver raised something unexpected) and
SERVICE_UNAVAILABLE (the log did not take a write) can only mean a bug, so they fail the case
like a 5xx would.

The ledger reads the event topic as it grows (read_committed, like any consumer) and checks,
request by request, that the records appended are exactly the events that the request's
successful mutations reported: nothing for an error, one event per success (none for an update
that changed nothing or for a retried commandId, which reports the first answer's event).
Each request to the command service carries its own X-Correlation-ID, which the service writes
into every event as `ce_correlationid`, so a stray event is pinned on the request that wrote it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.adapters import private_api
from tests.fuzz.strategies import EVENT_ID_KEY
from tests.support.kafka import Record, by_product, read_all

DOCUMENTED_CODES = frozenset(
    {
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "CONCURRENCY_CONFLICT",
        "PRODUCT_DELETED",
        "UNAUTHENTICATED",
        "INTERNAL_SERVER_ERROR",
        "SERVICE_UNAVAILABLE",
        "CONSISTENCY_TIMEOUT",
        "PAYLOAD_TOO_LARGE",
        "REQUEST_TIMEOUT",
        "QUERY_TOO_BROAD",
    }
)
# What each service may answer to any client input while Kafka and MongoDB are healthy.
# (Query depth and cost limits answer BAD_USER_INPUT: services/query/limits.py.)
EXPECTED_CODES = {
    "command": frozenset(
        {
            "BAD_USER_INPUT",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "CONCURRENCY_CONFLICT",
            "PRODUCT_DELETED",
            "PAYLOAD_TOO_LARGE",
        }
    ),
    "query": frozenset({"BAD_USER_INPUT", "CONSISTENCY_TIMEOUT", "PAYLOAD_TOO_LARGE"}),
}
CORRELATION_HEADER = "X-Correlation-ID"


def check_graphql_response(body: Any, service: str) -> list[dict[str, Any]]:
    """Assert that `body` is a GraphQL response whose errors keep the contract; its errors."""
    assert isinstance(body, dict), f"not a GraphQL response object: {body!r}"
    assert "data" in body or "errors" in body, f"neither data nor errors: {body!r}"
    assert set(body) <= {"data", "errors", "extensions"}, f"unexpected keys: {body!r}"
    assert body.get("data") is None or isinstance(body["data"], dict), body
    errors = body.get("errors")
    if errors is None:
        assert body.get("data") is not None, f"no data and no errors: {body!r}"
        return []
    assert isinstance(errors, list) and errors, f"errors must be a non-empty list: {body!r}"
    for error in errors:
        assert isinstance(error, dict) and isinstance(error.get("message"), str), error
        assert "Traceback" not in error["message"], error
        extensions = error.get("extensions")
        assert isinstance(extensions, dict), f"an error without extensions: {error!r}"
        assert "exception" not in extensions, f"a stack trace went to the client: {error!r}"
        code = extensions.get("code")
        assert code in DOCUMENTED_CODES, f"undocumented or missing code: {error!r}"
        assert code in EXPECTED_CODES[service], (
            f"{code} from the {service} service on a healthy stack is a bug: {error!r}"
        )
    return errors


def check_mutation_answers(body: dict[str, Any]) -> None:
    """Each mutation answers on its own: null exactly when an error names it in its path."""
    data = body.get("data")
    if not isinstance(data, dict):
        return  # refused as a whole (validation), nothing ran
    failed = {e["path"][0] for e in body.get("errors", ()) if e.get("path")}
    nulls = {key for key, value in data.items() if value is None}
    assert nulls == failed, f"null answers {sorted(nulls)}, errors for {sorted(failed)}: {body!r}"


def reported_event_ids(body: Any) -> set[str]:
    """The eventIds that the successful mutations of a response reported (null ones left out).

    Mutation fields answer `fuzzEventId: eventId` (tests.fuzz.strategies.with_event_ids, and the
    hand-written mutations of the hostile cases select it the same way).
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return set()
    return {
        value[EVENT_ID_KEY]
        for value in data.values()
        if isinstance(value, dict) and value.get(EVENT_ID_KEY) is not None
    }


class Ledger:
    """Every event of the topic, by the request that appended it, checked as it arrives."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        # Paused between drains and with short fetch waits: a fetch in flight would otherwise
        # hold up each drain's end-offset request for up to fetch_max_wait_ms (500 ms).
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            isolation_level="read_committed",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        self._partitions: list[TopicPartition] = []
        self._requests = 0
        # correlation id -> the event ids its successful mutations reported
        self.reported: dict[str, set[str]] = {}
        # event id -> correlation id of the record, for every record seen on the topic
        self.seen: dict[str, str] = {}

    async def start(self) -> None:
        await self._consumer.start()
        try:
            # As tests.support.kafka.read_all: an unsubscribed consumer's cached metadata may not
            # know the topic yet, so ask the cluster.
            partitions = await private_api.topic_partitions(self._consumer, self._topic)
            assert partitions, f"topic {self._topic} does not exist"
        except BaseException:
            await self._consumer.stop()
            raise
        self._partitions = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)
        self._consumer.pause(*self._partitions)

    async def stop(self) -> None:
        await self._consumer.stop()

    def correlation_id(self) -> str:
        self._requests += 1
        return f"fuzz-{self._requests}"

    async def settle(self, correlation_id: str, body: Any) -> set[str]:
        """Record what the request reported, then wait until those events are on the topic.

        Every record read meanwhile must belong to a request that reported its event.
        Returns the event ids the request reported.
        """
        reported = reported_event_ids(body)
        self.reported[correlation_id] = reported
        deadline = time.monotonic() + 15
        while missing := reported - self.seen.keys():
            assert time.monotonic() < deadline, (
                f"request {correlation_id} answered success with events {sorted(missing)}, "
                f"which never reached the topic; it answered {body!r}"
            )
            await self._drain()
            if reported - self.seen.keys():
                await asyncio.sleep(0.05)
        await self._drain()
        return reported

    async def _drain(self) -> None:
        """Read the committed records appended since the last drain, and check each."""
        end = await self._consumer.end_offsets(self._partitions)
        pending = {tp for tp in self._partitions if await self._consumer.position(tp) < end[tp]}
        if not pending:
            return
        self._consumer.resume(*pending)
        try:
            while pending:
                batch = await asyncio.wait_for(self._consumer.getmany(*pending, timeout_ms=200), 30)
                for items in batch.values():
                    for raw in items:
                        headers = {k: v.decode() for k, v in raw.headers}
                        self._check(headers.get("ce_id", ""), headers.get("ce_correlationid", ""))
                pending = {tp for tp in pending if await self._consumer.position(tp) < end[tp]}
        finally:
            self._consumer.pause(*self._partitions)

    def _check(self, event_id: str, correlation_id: str) -> None:
        assert event_id not in self.seen, f"event {event_id} appended twice"
        reported = self.reported.get(correlation_id)
        assert reported is not None and event_id in reported, (
            f"event {event_id} was appended for request {correlation_id}, but no successful "
            f"mutation of that request reported it (it reported {sorted(reported or ())})"
        )
        self.seen[event_id] = correlation_id

    async def check_whole_topic(self) -> list[Record]:
        """The topic read afresh from offset 0 holds exactly the events the ledger accounted,
        and each product's ce_sequence runs 1, 2, 3 … without a gap (docs/architecture.md, invariant 2)."""
        records = await read_all(self._bootstrap, self._topic)
        for product_id, events in by_product(records).items():
            sequences = [r.sequence for r in events]
            assert sequences == list(range(1, len(events) + 1)), (product_id, sequences)
        on_topic = {r.headers["ce_id"]: r.headers.get("ce_correlationid", "") for r in records}
        assert len(on_topic) == len(records), "an event id occurs twice on the topic"
        assert on_topic == self.seen, (
            "the topic and the answers disagree: "
            f"unaccounted {sorted(on_topic.keys() - self.seen.keys())[:10]}, "
            f"missing {sorted(self.seen.keys() - on_topic.keys())[:10]}"
        )
        return records
