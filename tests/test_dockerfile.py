"""The Dockerfile and .dockerignore, checked without a Docker engine: a reproducible image.

The base image by digest, uv by hash and in the build stage only, the dependencies from uv.lock
only (the dependency step is run here with `--dry-run` on exactly the files the image has at
that point), no build backend fetched, the sources byte-compiled, a numeric non-root user, and
a build context that holds every file the Dockerfile copies.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[str]:
    text = DOCKERFILE.read_text()
    return [
        line.strip()
        for line in re.sub(r"\\\n\s*", " ", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def stages() -> list[list[str]]:
    out: list[list[str]] = []
    for line in instructions():
        if line.startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def uv_version_of_the_native_stack() -> str:
    found = re.search(r"uv==(\d+\.\d+\.\d+)", (ROOT / "infra/native/uv.sh").read_text())
    assert found
    return found[1]


def test_the_base_image_is_pinned_by_digest_in_both_stages() -> None:
    [arg] = [line for line in instructions() if line.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(
        r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", arg
    ), arg
    build, final = stages()
    assert build[0] == "FROM ${PYTHON_IMAGE} AS build"
    assert final[0] == "FROM ${PYTHON_IMAGE}"
    assert len(stages()) == 2


def test_uv_comes_from_pypi_by_hash_into_the_build_stage_only() -> None:
    build, final = stages()
    requirements = ROOT / "infra/docker/uv-requirements.txt"
    text = re.sub(r"\\\n\s*", " ", requirements.read_text())
    [pin] = [line for line in text.splitlines() if line.startswith("uv==")]
    assert pin.split()[0] == f"uv=={uv_version_of_the_native_stack()}"
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", pin)) >= 2  # amd64 and arm64 wheels
    [install] = [line for line in build if "pip install" in line]
    args = shlex.split(install)
    assert "--require-hashes" in args and "--only-binary=:all:" in args
    assert args[args.index("-r") + 1] == "/tmp/uv-requirements.txt"
    assert "COPY infra/docker/uv-requirements.txt /tmp/uv-requirements.txt" in build
    assert not any(re.search(r"\buv\b", line) for line in final if not line.startswith("ENTRY"))


def test_dependencies_come_from_the_lock_file_only_and_no_build_backend() -> None:
    build, _ = stages()
    syncs = [line for line in build if line.startswith("RUN") and "uv sync" in line]
    assert syncs == ["RUN uv sync --frozen --no-dev --no-install-project"]
    assert not any(re.search(r"pip install (-e )?\.|uv pip|hatch", line) for line in build)
    copies = [line for line in build if line.startswith("COPY")]
    # the dependency layer sees pyproject.toml and uv.lock only: edits elsewhere reuse it
    assert copies[1] == "COPY pyproject.toml uv.lock ./"
    assert build.index(copies[1]) < build.index(syncs[0]) < build.index(copies[2])
    assert not any("README" in line for line in instructions())
    for source in ("shared/", "services/", "schema/"):
        assert build.index(f"COPY {source} {source}") > build.index(syncs[0]), source


def test_the_dependency_step_works_with_just_those_two_files(tmp_path: Path) -> None:
    """The image's `uv sync`, dry-run in a folder holding only pyproject.toml and uv.lock:
    it resolves from the lock file alone and would not build the project."""
    [image_sync] = [shlex.split(line)[1:] for line in stages()[0] if line.startswith("RUN uv sync")]
    assert image_sync[0] == "uv"
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    done = subprocess.run(
        [str(ROOT / "infra/native/uv.sh"), *image_sync[1:], "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**env, "UV_PYTHON_DOWNLOADS": "never"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Would install" in out
    assert "aiokafka==" in out and "fastapi==" in out
    assert "catalog-es" not in out  # the project itself is never built
    assert "pytest" not in out  # no dev dependency


def test_the_final_stage_runs_byte_compiled_sources_as_a_numeric_user() -> None:
    build, final = stages()
    [compile_step] = [line for line in build if "compileall" in line]
    assert shlex.split(compile_step)[-2:] == ["shared", "services"]
    assert "--invalidation-mode unchecked-hash" in compile_step
    assert "ENV UV_COMPILE_BYTECODE=1" in " ".join(build)
    assert "COPY --from=build /app /app" in final
    [user] = [line.split()[1] for line in final if line.startswith("USER ")]
    uid, gid = user.split(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0
    env = " ".join(line for line in final if line.startswith("ENV "))
    for setting in ("PATH=/app/.venv/bin:$PATH", "PYTHONPATH=/app", "PYTHONUNBUFFERED=1"):
        assert setting in env.split(), setting
    assert f"-o {uid} -g {gid} -m 0700 /credentials" in " ".join(final)
    [entrypoint] = [line for line in final if line.startswith("ENTRYPOINT")]
    assert entrypoint == (
        'ENTRYPOINT ["python", "-m", "shared.dev_credentials", "run", "/credentials", "--"]'
    )


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore pattern (no negations here) excludes PATH or a folder of it."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        assert not pattern.startswith("!"), "negations are not handled here"
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatch(prefix.split("/")[-1], pattern[3:])
            ):
                return True
    return False


def test_the_build_context_holds_what_is_copied_and_no_local_state() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", ".run", ".env", "bench/results"} <= set(patterns)
    assert ignored(".run/dev-secret", patterns)
    assert ignored("shared/__pycache__/settings.cpython-311.pyc", patterns)
    sources = []
    for line in instructions():
        if line.startswith("COPY") and "--from=" not in line:
            sources += shlex.split(line)[1:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source, patterns), source


@pytest.mark.parametrize("name", ["shared/dev_credentials.py", "infra/docker/uv-requirements.txt"])
def test_files_the_image_needs_are_in_the_context(name: str) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert (ROOT / name).is_file()
    assert not ignored(name, patterns)
