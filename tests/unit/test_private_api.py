"""The private attributes of libraries that shared/adapters/private_api.py relies on.

If uv.lock moves aiokafka, uvicorn or graphql-core to another version, a version test fails:
read the functions of private_api.py against the new version's source, then update
AIOKAFKA_VERSION, UVICORN_VERSION or GRAPHQL_CORE_VERSION. The others fail as soon as an
attribute they use is gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiokafka
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.producer import sender
from aiokafka.producer.transaction_manager import TransactionManager
from graphql import build_schema, parse, subscribe, version
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.adapters import private_api
from shared.adapters.graphql_http.shared_events import SharingExecutor


def test_the_locked_aiokafka_is_the_version_private_api_was_written_for() -> None:
    assert aiokafka.__version__ == private_api.AIOKAFKA_VERSION


async def test_the_attributes_private_api_uses_exist() -> None:
    assert hasattr(sender, "BACKOFF_OVERRIDE")
    assert callable(TransactionManager.wait_for_pid)
    assert callable(GroupCoordinator.request_rejoin)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", transactional_id="t")
    assert isinstance(producer._txn_manager, TransactionManager)
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    assert callable(consumer._client.fetch_all_metadata)
    assert callable(consumer._client.force_metadata_update)


def test_tuning_is_applied_only_when_asked() -> None:
    before = sender.BACKOFF_OVERRIDE
    try:
        sender.BACKOFF_OVERRIDE = None
        private_api.tune_aiokafka()
        assert sender.BACKOFF_OVERRIDE == private_api.TRANSACTION_RETRY_BACKOFF_S
    finally:
        sender.BACKOFF_OVERRIDE = before


def test_the_locked_uvicorn_is_the_version_the_protocol_subclass_was_written_for() -> None:
    assert uvicorn.__version__ == private_api.UVICORN_VERSION
    # What the subclass overrides or touches of uvicorn's httptools protocol.
    assert callable(HttpToolsProtocol.connection_made)
    assert callable(HttpToolsProtocol.handle_websocket_upgrade)
    assert issubclass(private_api.coalescing_http_protocol(), HttpToolsProtocol)


def test_the_coalescing_transport_sends_one_turns_writes_as_one() -> None:
    sent: list[bytes] = []

    class Recorder(asyncio.Transport):
        def write(self, data: Any) -> None:
            sent.append(bytes(data))

        def is_closing(self) -> bool:
            return False

    async def scenario() -> None:
        transport = private_api.CoalescingTransport(Recorder(), asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert sent == []  # held until the turn ends
        await asyncio.sleep(0)
        assert sent == [b"HTTP/1.1 200 OK\r\n\r\nbody"]

    asyncio.run(scenario())


def test_the_locked_graphql_core_is_the_version_the_executor_was_written_for() -> None:
    assert version == private_api.GRAPHQL_CORE_VERSION
    # What plain_completion.py overrides and uses of graphql-core's query executor.
    assert callable(private_api.QueryExecutor.complete_value)
    assert callable(private_api.QueryExecutor.collect_subfields)
    executor = private_api.QueryExecutor.build(
        build_schema("type Query { a: Int }"), parse("{ a ...F } fragment F on Query { a }")
    )
    assert isinstance(executor, private_api.QueryExecutor)
    assert executor.fragments["F"].definition.name.value == "F"


async def test_a_subscriptions_memos_do_not_grow_with_its_events() -> None:
    schema = build_schema(
        "type Query { a: Int } type Subscription { s: T } type T { x: Int ys: [Int] }"
    )
    assert schema.subscription_type is not None

    async def source(*_: Any) -> Any:
        for i in range(50):
            yield {"s": {"x": i, "ys": [i]}}

    schema.subscription_type.fields["s"].subscribe = source
    built: list[Any] = []

    class Recording(SharingExecutor):
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            built.append(super().build(*args, **kwargs))
            return built[-1]

    stream: Any = subscribe(schema, parse("subscription { s { x ys } }"), executor_class=Recording)
    results = [result async for result in stream]
    assert results[-1].data == {"s": {"x": 49, "ys": [49]}}
    assert len(built[0]._relevant_sub_fields) == 0
    assert len(built[0]._stream_usages) == 0
