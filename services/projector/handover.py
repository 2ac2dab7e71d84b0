"""Handing the read models over from the live projector to a rebuild, through one MongoDB document.

A rebuild replays the log into fresh collections while the live projector goes on. To swap the
fresh collections in without losing or doubling an event, the live projector must stand still
for the moment of the swap: the rebuild asks it to pause, the projector finishes its batch,
commits, and answers with how far it got; the rebuild catches up at least that far, swaps, and
lets it go on. Events the rebuild already applied are no-ops for the projector (version guard).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo import Document

CONTROL_ID = "projector"


class HandoverTimeout(Exception):
    """The live projector did not answer: it is not running, or stuck."""


class PauseSwitch:
    """The projector's side: is a pause requested, and acknowledging it."""

    def __init__(self, control: AsyncCollection[Document], check_every_s: float = 0.25) -> None:
        self._control = control
        self._check_every_s = check_every_s
        self._next_check = 0.0

    async def requested(self) -> str | None:
        """The pending request's token, checked at most every `check_every_s` seconds."""
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + self._check_every_s
        doc = await self._control.find_one({"_id": CONTROL_ID})
        token = doc.get("pauseRequested") if doc else None
        return str(token) if token else None

    async def hold(self, token: str, positions: dict[int, int]) -> None:
        """Say where we stopped, then wait until the rebuild withdraws its request."""
        await self._control.update_one(
            {"_id": CONTROL_ID, "pauseRequested": token},
            {
                "$set": {
                    "paused": {
                        "token": token,
                        "positions": {str(p): o for p, o in positions.items()},
                    }
                }
            },
        )
        while True:
            doc = await self._control.find_one({"_id": CONTROL_ID})
            if not doc or doc.get("pauseRequested") != token:
                return
            await asyncio.sleep(0.1)


async def request_pause(
    control: AsyncCollection[Document], timeout_s: float
) -> tuple[str, dict[int, int]]:
    """The rebuild's side: pause the live projector; returns the token and its positions."""
    token = uuid.uuid4().hex
    await control.update_one(
        {"_id": CONTROL_ID},
        {"$set": {"pauseRequested": token}, "$unset": {"paused": ""}},
        upsert=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc: dict[str, Any] | None = await control.find_one({"_id": CONTROL_ID})
        paused = (doc or {}).get("paused") or {}
        if paused.get("token") == token:
            return token, {int(p): int(o) for p, o in paused["positions"].items()}
        await asyncio.sleep(0.1)
    await resume(control, token)
    raise HandoverTimeout(f"the projector did not pause within {timeout_s}s; is it running?")


async def resume(control: AsyncCollection[Document], token: str) -> None:
    await control.update_one(
        {"_id": CONTROL_ID, "pauseRequested": token},
        {"$unset": {"pauseRequested": "", "paused": ""}},
    )
