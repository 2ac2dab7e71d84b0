#!/usr/bin/env bash
# Print how the stack runs here: "docker" (Docker Compose) or "native" (infra/native/*.sh).
# INFRA=docker|native forces the choice; by default Docker is used when the repository has a
# compose file and a Docker engine answers `docker info` within 5 s.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case ${INFRA:-auto} in
  docker | native) echo "$INFRA"; exit ;;
  auto) ;;
  *) echo "error: INFRA must be docker, native or auto (got '$INFRA')" >&2; exit 2 ;;
esac
compose=no
for f in compose.yaml compose.yml docker-compose.yaml docker-compose.yml; do
  [[ -f $ROOT/$f ]] && compose=yes
done
if [[ $compose == yes ]] && command -v docker >/dev/null 2>&1 \
  && timeout 5 docker info >/dev/null 2>&1; then
  echo docker
else
  echo native
fi
