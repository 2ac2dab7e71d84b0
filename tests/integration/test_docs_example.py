"""docs/consuming-events.md's Python example runs against a real topic and gets the state right.

The example is an outside consumer: it knows only the published contract. Fed a log that mixes
v1 and v2 records and a redelivered record, it must end with the same products as the catalog.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

from shared.domain.events import ProductCreated, ProductUpdated
from shared.envelope import new_envelope, to_record
from tests.support.infra import ROOT
from tests.support.legacy import created_v1, deleted_v1, updated_v1
from tests.support.producing import produce

EXAMPLE = ROOT / "docs" / "examples" / "consume_product_events.py"
GUIDE = ROOT / "docs" / "consuming-events.md"


def test_the_guide_shows_the_example_verbatim() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    code = EXAMPLE.read_text(encoding="utf-8")
    assert f"```python\n{code}```" in guide


async def test_the_example_consumer_folds_a_mixed_log(isolated_env: dict[str, str]) -> None:
    mug, plate, cup = (str(uuid.uuid4()) for _ in range(3))
    renamed = updated_v1(mug, 2, name="Big mug", category=None)
    branded = new_envelope(ProductUpdated(id=mug, brand="Acme"), 3, "c3", "t")
    plate_created = ProductCreated(
        id=plate,
        sku="PLATE-1",
        name="Plate",
        price={"amount": "5.00", "currency": "EUR"},
        brand="Globex",
    )
    await produce(
        isolated_env,
        [],
        raw=[
            created_v1(mug, "MUG-1", "Mug", "9.90", category="kitchen", tags=("ceramic",)),
            renamed,
            renamed,  # delivered twice: the same ce_id
            to_record(branded),
            to_record(new_envelope(plate_created, 1, "c4", "t")),
            created_v1(cup, "CUP-1", "Cup", "4.50"),
            deleted_v1(cup, 2),
        ],
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(EXAMPLE),
            "--bootstrap",
            isolated_env["KAFKA_BOOTSTRAP_SERVERS"],
            "--topic",
            isolated_env["EVENTS_TOPIC"],
            "--group",
            f"example-{uuid.uuid4().hex[:8]}",
            "--idle-exit",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    products = json.loads("\n".join(lines[lines.index("{") :]))
    assert products == {
        mug: {
            "id": mug,
            "sku": "MUG-1",
            "name": "Big mug",
            "description": None,
            "price": {"currency": "EUR", "amount": "9.90"},
            "category": None,
            "tags": ["ceramic"],
            "brand": "Acme",
            "version": 3,
        },
        plate: {
            "id": plate,
            "sku": "PLATE-1",
            "name": "Plate",
            "description": None,
            "price": {"currency": "EUR", "amount": "5.00"},
            "category": None,
            "tags": [],
            "brand": "Globex",
            "version": 1,
        },
        cup: {
            "id": cup,
            "sku": "CUP-1",
            "name": "Cup",
            "description": None,
            "price": {"currency": "EUR", "amount": "4.50"},
            "category": None,
            "tags": [],
            "brand": None,
            "version": 2,
            "deleted": True,
        },
    }
    assert sum(" v2 ProductUpdated" in line for line in lines) == 1  # the duplicate was skipped
