"""The official AsyncAPI parser (@asyncapi/parser, JavaScript), run from the tests.

There is no maintained AsyncAPI 3 parser for Python, so the tests run the official one with
Node.js. Its exact version is pinned in tools/asyncapi/package-lock.json and installed here with
`npm ci` on first use (and again whenever the lock file changes), so `make test` needs nothing
but Node.js 18+ and npm on the PATH. Without them the tests fail, saying so; they never skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.infra import ROOT

TOOL = ROOT / "tools" / "asyncapi"


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(
            f"`{program}` not found: the AsyncAPI check needs Node.js 18+ and npm "
            "(e.g. `apt-get install nodejs npm`)"
        )
    return path


def install() -> None:
    """`npm ci` in tools/asyncapi unless node_modules already matches the lock file."""
    npm = _require("npm")
    installed = TOOL / "node_modules" / ".package-lock.json"
    lock = TOOL / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=TOOL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {TOOL} failed:\n{done.stdout}\n{done.stderr}")


def parse(document: Path) -> tuple[int, dict[str, Any]]:
    """(exit code, summary) of tools/asyncapi/validate.mjs for a document: its diagnostics and
    the channels, messages and operations the parser understood (every $ref resolved)."""
    install()
    done = subprocess.run(
        [_require("node"), str(TOOL / "validate.mjs"), str(document)],
        cwd=TOOL,
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
