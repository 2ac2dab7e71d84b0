#!/bin/sh
# Print how the stack runs on this machine: "docker" (Docker Compose) or "native"
# (infra/native/*.sh); when neither can work, say why in one line on stderr and exit 1.
#
# INFRA=docker|native forces the choice; by default (INFRA=auto) Docker is used when the `docker`
# client is installed and its engine answers `docker info` within DOCKER_PROBE_TIMEOUT seconds
# (5). Docker mode also needs the Compose v2 plugin (`docker compose`), 2.20 or newer. The native
# stack runs on Linux only: it uses the Linux-only mongod of a PyPI wheel, setsid and ldd.
#
# POSIX sh, no `timeout` (stock macOS has none) and no bash 4: `make up` on a Mac runs this
# with the system's /bin/sh before anything else.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COMPOSE_MIN=2.20
PROBE_TIMEOUT=${DOCKER_PROBE_TIMEOUT:-5}

die() {
  echo "error: $*" >&2
  exit 1
}

# within SECONDS CMD...: run CMD (output discarded), TERM it after SECONDS. Exit status: CMD's,
# or non-zero when it was stopped. The watchdog's output goes to /dev/null, so a caller reading
# our stdout through $(...) never waits for its sleep.
within() {
  seconds=$1
  shift
  "$@" >/dev/null 2>&1 </dev/null &
  pid=$!
  (sleep "$seconds" && kill -TERM "$pid") >/dev/null 2>&1 </dev/null &
  watchdog=$!
  status=0
  wait "$pid" 2>/dev/null || status=$?  # no "Terminated" notice on stderr
  kill "$watchdog" 2>/dev/null || true
  return "$status"
}

# compose_ok: is `docker compose` there, at COMPOSE_MIN or newer? Else say what is missing.
compose_ok() {
  version=$(docker compose version --short 2>/dev/null) || {
    echo "the Docker engine answers, but the Compose v2 plugin ('docker compose') is missing: install docker-compose-plugin (Linux) or update Docker Desktop${1:+, or run $1}"
    return 1
  }
  version=${version#v}
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  case $major$minor in '' | *[!0-9]*) major=0 minor=0 ;; esac
  if [ "$major" -lt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -lt "${COMPOSE_MIN#*.}" ]; }; then
    echo "Docker Compose $version is too old: $COMPOSE_MIN or newer is needed (--wait-timeout, profiles)${1:+; or run $1}"
    return 1
  fi
}

os=$(uname -s)
native_hint=""
native_refusal="the native stack runs on Linux only (mongod from a Linux wheel, setsid, ldd), not on $os"
if [ "$os" = Linux ]; then
  native_hint="natively with INFRA=native"
fi

engine_answers() {
  command -v docker >/dev/null 2>&1 && within "$PROBE_TIMEOUT" docker info
}

have_compose_file() {
  for f in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
    [ -f "$ROOT/$f" ] && return 0
  done
  return 1
}

case ${INFRA:-auto} in
  native)
    [ "$os" = Linux ] || die "$native_refusal: use Docker (Docker Desktop), INFRA=docker"
    echo native
    ;;
  docker)
    command -v docker >/dev/null 2>&1 || die "INFRA=docker, but the docker client is not installed"
    engine_answers || die "INFRA=docker, but the Docker engine does not answer 'docker info' within ${PROBE_TIMEOUT} s (is it running?)"
    problem=$(compose_ok "$native_hint") || die "$problem"
    echo docker
    ;;
  auto)
    if have_compose_file && engine_answers; then
      problem=$(compose_ok "$native_hint") || die "$problem"
      echo docker
    elif [ "$os" = Linux ]; then
      if command -v docker >/dev/null 2>&1 && have_compose_file; then
        echo "note: no Docker engine answers 'docker info': running natively (INFRA=docker insists on Docker)" >&2
      fi
      echo native
    elif command -v docker >/dev/null 2>&1; then
      die "the Docker engine does not answer 'docker info' within ${PROBE_TIMEOUT} s: start Docker Desktop (and $native_refusal)"
    else
      die "Docker is not installed: install Docker Desktop ($native_refusal)"
    fi
    ;;
  *) die "INFRA must be docker, native or auto (got '$INFRA')" ;;
esac
