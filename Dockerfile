# One image for the three services (command, projector, query); docker-compose.yml picks the
# service with its `command:`. Reproducible inputs only:
# - the base image by digest: the multi-platform index (linux/amd64, linux/arm64) of
#   python:3.11.15-slim-bookworm, so a rebuild next year starts from the same bytes;
# - uv from PyPI by hash (infra/docker/uv-requirements.txt), in the build stage only;
# - the dependencies from uv.lock as it is (`--frozen`: never re-resolved, hashes checked), the
#   versions the tests ran against. The project itself is not installed (no build backend is
#   fetched): the services run from /app on PYTHONPATH.
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm@sha256:d29f48a31a8b408ed19272ca1e7b10ebae13b240a27e862d3d4217c528e2e0c3

FROM ${PYTHON_IMAGE} AS build

COPY infra/docker/uv-requirements.txt /tmp/uv-requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --only-binary=:all: \
      -r /tmp/uv-requirements.txt

# UV_COMPILE_BYTECODE: .pyc files written now (the non-root user cannot write them at run time).
# UV_LINK_MODE=copy: no hard links across layers. UV_PYTHON_DOWNLOADS=never: the venv is built on
# the image's own Python 3.11, which the final stage has at the same path.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

WORKDIR /app

# The dependency layer depends on these two files only: a source or README edit reuses it.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY shared/ shared/
COPY services/ services/
COPY schema/ schema/
# Byte-compiled like the dependencies; unchecked-hash .pyc do not depend on file times and are
# never re-validated against sources that cannot change inside the image.
RUN python -m compileall -q --invalidation-mode unchecked-hash shared services

FROM ${PYTHON_IMAGE}

# A numeric, non-root user (runAsNonRoot-style checks need the number), and the mount point of
# the `credentials` volume, which Docker initialises with this owner and mode.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app \
    && install -d -o 10001 -g 10001 -m 0700 /credentials

WORKDIR /app
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001

# Every service starts through shared/dev_credentials.py: with no JWT_SECRET or JWT_PUBLIC_KEY
# configured it hands over the development secret of the `credentials` volume, then execs the
# command (so the service is PID 1 and gets the stop signal itself).
ENTRYPOINT ["python", "-m", "shared.dev_credentials", "run", "/credentials", "--"]
# docker-compose.yml overrides this per service.
CMD ["python", "-m", "services.query"]
