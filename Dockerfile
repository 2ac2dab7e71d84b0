# One image for the three services (command, projector, query); docker-compose.yml picks the
# service with its `command:`. Dependencies come from uv.lock only (`--frozen`: the lock file is
# used as is, never re-resolved), so the image runs exactly the versions the tests ran against.
FROM python:3.11-slim

RUN pip install --no-cache-dir uv==0.13.9

# UV_COMPILE_BYTECODE: write the .pyc files at build time (the non-root user cannot write them
# into the venv at run time). UV_LINK_MODE=copy: no hard links across layers/mounts.
# UV_PYTHON_DOWNLOADS=never: build the venv on the image's own Python 3.11, never a download.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the lock file changes, not on
# every source edit. README.md is there because pyproject.toml names it as the readme.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the sources, and the project itself (an editable install: the packages stay in /app, so
# schema/ is found next to them as in a checkout).
COPY shared/ shared/
COPY services/ services/
COPY schema/ schema/
RUN uv sync --frozen --no-dev

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent app
USER app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1

# docker-compose.yml overrides this per service.
CMD ["python", "-m", "services.query"]
