"""Where the services' GraphQL schemas come from: the SDL files of schema/, loaded by ariadne."""

from __future__ import annotations

from pathlib import Path

from ariadne import load_schema_from_path

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schema"


def load_sdl(name: str) -> str:
    return load_schema_from_path(str(SCHEMA_DIR / name))
