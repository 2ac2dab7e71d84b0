#!/usr/bin/env bash
# Installs Debian's PACKAGE with apt-get when PROGRAM is not on this machine, so that the make
# targets install what they run: `make test` (chromium, for the browser test) and `make bench`
# (wrk). As root it runs apt-get itself; otherwise through passwordless sudo, or it fails with
# the command to run. Usage: infra/apt-install.sh PROGRAM PACKAGE
set -euo pipefail
program=$1
package=$2

command -v "$program" >/dev/null 2>&1 && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: $program not found; this machine has no apt-get: install $package yourself" >&2
  exit 1
fi
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "error: $program not found: run 'sudo apt-get install $package'" >&2
    exit 1
  fi
fi
echo "$program not found: installing Debian's $package with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$program" >/dev/null 2>&1 || { echo "error: $package installed no $program" >&2; exit 1; }
