"""Node.js tools of tools/ (each a package.json with its package-lock.json), run from the tests.

Each tool's exact versions are pinned in its package-lock.json and installed here with `npm ci`
on first use (and again whenever the lock file changes), so `make test` needs nothing but
Node.js 18+ and npm on the PATH. Without them the tests fail, saying so; they never skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.infra import ROOT

TOOLS = ROOT / "tools"


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(
            f"`{program}` not found: the tests need Node.js 18+ and npm "
            "(e.g. `apt-get install nodejs npm`)"
        )
    return path


def install(tool: str | Path) -> Path:
    """`npm ci` in tools/<tool> unless its node_modules already matches the lock file; the
    tool's folder. Packages' install scripts never run (--ignore-scripts): none of these tools
    needs one, and that is where a package would download a browser or a binary of its own."""
    folder = TOOLS / tool
    installed = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return folder
    done = subprocess.run(
        [require("npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {folder} failed:\n{done.stdout}\n{done.stderr}")
    return folder
