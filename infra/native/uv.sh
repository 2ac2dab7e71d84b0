#!/usr/bin/env bash
# Run uv with the given arguments, installing uv 0.13.9 with pip first when it is missing.
set -euo pipefail
command -v uv >/dev/null 2>&1 && exec uv "$@"
if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "uv not found: installing uv==0.13.9 with pip" >&2
  python3 -m pip install -q --disable-pip-version-check uv==0.13.9 \
    || { echo "error: could not install uv: run 'python3 -m pip install uv==0.13.9' (or 'pipx install uv==0.13.9')" >&2; exit 1; }
fi
exec python3 -m uv "$@"
