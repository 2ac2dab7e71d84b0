"""docker-compose.yml as Docker Compose would run it, for tests on a machine without Docker.

Only the parts of the Compose specification this project's compose file uses: YAML anchors and
merge keys (PyYAML resolves those as Compose does), interpolation of `${VAR}`, `${VAR:-default}`,
`${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and `$$`; the
`environment` of a service with names listed without a value taken from the caller's environment
(and dropped when it has none); profiles, and the services `up SERVICE...` starts with their
dependencies. Anything else in the file's syntax raises, so a construct this module does not
understand cannot silently pass a test. The results were compared with `docker compose config`
(Compose 2.40) for the environments the tests use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.S)


class InterpolationError(ValueError):
    """A `${VAR:?message}` with VAR unset, or syntax this module does not implement."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None or "$" in (braced["arg"] or ""):
            raise InterpolationError(f"unsupported interpolation {match[0]!r}")
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if missing else str(value)
        if op in (":?", "?"):
            if missing:
                raise InterpolationError(f"{name}: {arg}")
            return str(value)
        if op in (":+", "+"):
            return "" if missing else arg
        return value or ""

    return _VARIABLE.sub(one, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, env) for key, value in node.items()}
    return node


@dataclass(frozen=True)
class Port:
    host_ip: str
    published: int
    target: int


@dataclass(frozen=True)
class Service:
    name: str
    raw: dict[str, Any]
    environment: dict[str, str]
    ports: list[Port]

    @property
    def profiles(self) -> list[str]:
        return list(self.raw.get("profiles") or [])

    @property
    def depends_on(self) -> list[str]:
        deps = self.raw.get("depends_on") or {}
        return list(deps) if isinstance(deps, dict) else [str(d) for d in deps]


@dataclass(frozen=True)
class Model:
    """The compose file interpolated with one environment."""

    services: dict[str, Service]
    top: dict[str, Any]

    def started_by_up(
        self, profiles: Iterable[str] = (), services: Iterable[str] = ()
    ) -> dict[str, Service]:
        """What `docker compose --profile P... up [SERVICE...]` starts: the named services
        and their dependencies, or else every service without a profile or with an active one."""
        active = set(profiles)
        named = list(services)
        if named:
            chosen: set[str] = set()
            todo = list(named)
            while todo:
                name = todo.pop()
                if name not in chosen:
                    chosen.add(name)
                    todo.extend(self.services[name].depends_on)
            return {name: self.services[name] for name in sorted(chosen)}
        return {
            name: svc
            for name, svc in self.services.items()
            if not svc.profiles or "*" in active or active & set(svc.profiles)
        }


def load(path: Path, env: Mapping[str, str]) -> Model:
    raw = yaml.safe_load(path.read_text())
    assert isinstance(raw, dict)
    top = _interpolate_tree({k: v for k, v in raw.items() if not k.startswith("x-")}, env)
    services = {
        name: Service(name, svc, _environment(svc, env), _ports(svc))
        for name, svc in top["services"].items()
    }
    return Model(services, top)


def _environment(service: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """A service's container environment: a name without a value is passed through from ENV
    when it is set there and left out otherwise (Compose drops it)."""
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        declared = dict(
            item.split("=", 1) if "=" in item else (item, None) for item in map(str, declared)
        )
    out: dict[str, str] = {}
    for name, value in declared.items():
        if value is None:
            if name in env:
                out[name] = env[name]
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def _ports(service: dict[str, Any]) -> list[Port]:
    out: list[Port] = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append(Port(str(port.get("host_ip", "")), int(port["published"]), port["target"]))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"port {port!r}: expected [ip:]published:target")
        out.append(Port(parts[0] if len(parts) == 3 else "", int(parts[-2]), int(parts[-1])))
    return out
