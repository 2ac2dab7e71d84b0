"""The private attributes of libraries that shared/adapters/private_api.py relies on.

If uv.lock moves aiokafka to another version, the first test fails: read the functions of
private_api.py against the new version's source, then update AIOKAFKA_VERSION. The others fail
as soon as an attribute they use is gone.
"""

from __future__ import annotations

import aiokafka
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.producer import sender
from aiokafka.producer.transaction_manager import TransactionManager

from shared.adapters import private_api


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
