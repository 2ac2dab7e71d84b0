"""The development stack's token-signing secret and bearer token, natively and in Docker.

Unless JWT_SECRET or JWT_PUBLIC_KEY is configured, the development stack signs tokens with a
secret generated once into DIR/dev-secret, and every start writes a 30-day token for the subject
"developer" to DIR/dev-token (with the `iss` and `aud` of JWT_ISSUER and JWT_AUDIENCE, when set,
so that it passes those checks too). Natively DIR is .run/ and infra/up.sh runs `mint`. In
Docker, DIR is the named volume `credentials` at /credentials: the one-shot compose service
`credentials` runs `mint`, and the image's entrypoint runs every service through `run`, which
hands the secret to it. So a plain `docker compose up` starts a working stack with nothing from
the host, and `make up` copies the token out of the volume instead of minting one with host tools.

A development secret is never generated, nor handed to a service, in production mode: there the
command service refuses to start without a configured key.

    python -m shared.dev_credentials mint DIR
    python -m shared.dev_credentials run DIR -- COMMAND [ARG...]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from pydantic import SecretStr, TypeAdapter, ValidationError

from shared.settings import HttpSettings

SECRET_FILE = "dev-secret"
TOKEN_FILE = "dev-token"
SUBJECT = "developer"
LIFETIME_S = 30 * 86_400


def mint(directory: Path, settings: HttpSettings) -> str:
    """Write DIR/dev-token (and DIR/dev-secret the first time, unless a key is configured);
    returns what was done, in one line. Raises SystemExit when no token can be made."""
    # Imported here: `run` starts every container and needs none of the JWT machinery.
    from shared.adapters.auth import issue, required_verifier

    token_path = directory / TOKEN_FILE
    if settings.jwt_public_key:
        token_path.unlink(missing_ok=True)
        return "JWT_PUBLIC_KEY is set: tokens come from its identity provider, none is minted here"
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    if not secret:
        if settings.production_mode:
            raise SystemExit(
                "PRODUCTION_MODE is on but neither JWT_SECRET nor JWT_PUBLIC_KEY is set; a "
                "development secret is never generated in production mode"
            )
        secret = _development_secret(directory / SECRET_FILE)
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secret)})
    claims = {
        name: value
        for name, value in (("iss", settings.jwt_issuer), ("aud", settings.jwt_audience))
        if value
    }
    # The services' own check: a secret they would refuse stops `make up` here, with its reason,
    # and the token must pass it.
    check = required_verifier(settings, "the development token")
    token = issue(secret, SUBJECT, LIFETIME_S, **claims)
    check.verify(f"Bearer {token}")
    _write(token_path, token + "\n")
    return f"a development token (subject {SUBJECT!r}, 30 days) is in {token_path}"


def service_environment(directory: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment to start a service with: JWT_SECRET from DIR/dev-secret when no key is
    configured, production mode is off and the secret exists; otherwise unchanged."""
    env = dict(environ)
    if env.get("JWT_SECRET") or env.get("JWT_PUBLIC_KEY") or _production_mode(env):
        return env
    try:
        secret = (directory / SECRET_FILE).read_text().strip()
    except OSError:
        return env
    if secret:
        env["JWT_SECRET"] = secret
    return env


def run(directory: Path, command: Sequence[str]) -> NoReturn:
    """Replace this process with COMMAND, in the environment of `service_environment`."""
    os.execvpe(command[0], list(command), service_environment(directory, os.environ))


def _production_mode(env: Mapping[str, str]) -> bool:
    """PRODUCTION_MODE as HttpSettings reads it; a value it would refuse counts as on (the
    service then stops on it itself), so a dev secret is never handed over by mistake."""
    try:
        return TypeAdapter(bool).validate_python(env.get("PRODUCTION_MODE", "false"))
    except ValidationError:
        return True


def _development_secret(path: Path) -> str:
    """The secret in PATH, created (48 random bytes, URL-safe, mode 0600) if there is none."""
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    candidate = secrets.token_urlsafe(48)
    staged = _staged(path, candidate + "\n")
    try:
        # link(2) creates PATH only if it does not exist: a concurrent first start keeps one secret.
        os.link(staged, path)
    except FileExistsError:
        pass
    finally:
        staged.unlink()
    return path.read_text().strip()


def _write(path: Path, text: str) -> None:
    os.replace(_staged(path, text), path)


def _staged(path: Path, text: str) -> Path:
    """TEXT in a new file (mode 0600) beside PATH, to be moved or linked into place."""
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.unlink(missing_ok=True)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return staged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.dev_credentials")
    commands = parser.add_subparsers(dest="action", required=True)
    mint_parser = commands.add_parser("mint", help="write DIR/dev-token (and DIR/dev-secret)")
    mint_parser.add_argument("directory", type=Path)
    run_parser = commands.add_parser("run", help="exec COMMAND with the development secret")
    run_parser.add_argument("directory", type=Path)
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command to start")
        run(args.directory, command)
    args.directory.mkdir(parents=True, exist_ok=True)
    print(mint(args.directory, HttpSettings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
