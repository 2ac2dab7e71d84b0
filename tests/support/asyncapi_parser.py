"""The official AsyncAPI parser (@asyncapi/parser, JavaScript), run from the tests.

There is no maintained AsyncAPI 3 parser for Python, so the tests run the official one with
Node.js. Its exact version is pinned in tools/asyncapi/package-lock.json and installed by
tests.support.npm on first use.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support import npm


def parse(document: Path) -> tuple[int, dict[str, Any]]:
    """(exit code, summary) of tools/asyncapi/validate.mjs for a document: its diagnostics and
    the channels, messages and operations the parser understood (every $ref resolved)."""
    tool = npm.install("asyncapi")
    done = subprocess.run(
        [npm.require("node"), str(tool / "validate.mjs"), str(document)],
        cwd=tool,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        summary: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"the AsyncAPI parser failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        ) from None
    return done.returncode, summary
