"""The thinnest write and read paths, on the same HTTP server stack as the services.

The bench divides each figure of the real stack by the same figure of this app, measured in the
same run with the same load generator, so the ratio says what our code costs and the noise of
a shared machine cancels out. It is FastAPI under uvicorn with uvloop and httptools, started
through the services' own `serve`, and does only the irreducible I/O:

- `POST /write`: one JSON record per request (the request body, as it came) to Kafka with the
  command service's producer guarantees — acks=all, idempotent — no GraphQL, no state;
- `GET /product?id=`: one `find_one` by `_id` on the products read model, as JSON;
- `GET /products?category=&max_price=`: the same filtered, sorted 21-row `find` the query
  service runs for `products(filter: {category, maxPrice}, first: 20)`, as JSON.

    python -m bench.baseline_app PORT TOPIC DATABASE
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from bson.decimal128 import Decimal128
from fastapi import FastAPI, Request, Response
from pymongo import ASCENDING, AsyncMongoClient

from shared.adapters.http import NO_TELEMETRY, serve
from shared.settings import InfraSettings

JSON = "application/json"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    raise TypeError(type(value).__name__)


def create_app(topic: str, database: str, settings: InfraSettings) -> FastAPI:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    products = client[database]["products"]
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=0,
        )
        await producer.start()
        state["producer"] = producer
        try:
            yield
        finally:
            await producer.stop()
            await client.close()

    app = FastAPI(
        lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None, telemetry=NO_TELEMETRY
    )

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.post("/write")
    async def write(request: Request) -> Response:
        metadata = await state["producer"].send_and_wait(topic, await request.body())
        body = orjson.dumps({"partition": metadata.partition, "offset": metadata.offset})
        return Response(body, media_type=JSON)

    @app.get("/product")
    async def product(request: Request) -> Response:
        doc = await products.find_one({"_id": request.query_params["id"]})
        return Response(orjson.dumps(doc, default=_default), media_type=JSON)

    @app.get("/products")
    async def page(request: Request) -> Response:
        params = request.query_params
        query = {
            "deleted": False,
            "category": params["category"],
            "price.amount": {"$lte": Decimal128(Decimal(params["max_price"]))},
        }
        cursor = products.find(query).sort([("name", ASCENDING), ("_id", ASCENDING)]).limit(21)
        rows = await cursor.to_list()
        return Response(orjson.dumps(rows[:20], default=_default), media_type=JSON)

    return app


def main() -> None:
    port, topic, database = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    serve(create_app(topic, database, InfraSettings()), "127.0.0.1", port)


if __name__ == "__main__":
    main()
