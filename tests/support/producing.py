"""Writing a prepared log straight to the topic, as the command service would have."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.adapters.kafka_log import ensure_topics
from shared.envelope import Envelope, to_record
from shared.settings import InfraSettings


def settings_from(env: dict[str, str]) -> InfraSettings:
    fields = InfraSettings.model_fields
    return InfraSettings(**{k.lower(): v for k, v in env.items() if k.lower() in fields})


async def produce(
    env: dict[str, str],
    envelopes: list[Envelope],
    raw: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = (),
) -> None:  # type: ignore[assignment]
    settings = settings_from(env)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(settings.events_topic, value, key=key, headers=headers)
            for key, value, headers in [*(to_record(e) for e in envelopes), *raw]
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()
