"""The projector's static group member id: distinct for two projectors, stable across a restart."""

from __future__ import annotations

import socket

import pytest

from shared.settings import ProjectorSettings


def test_two_projectors_on_one_host_get_different_ids_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROJECTOR_INSTANCE_ID", raising=False)
    monkeypatch.setenv("PROJECTOR_PORT", "8003")
    first = ProjectorSettings().projector_instance_id
    monkeypatch.setenv("PROJECTOR_PORT", "8023")
    second = ProjectorSettings().projector_instance_id
    assert first == f"projector-{socket.gethostname()}-8003"
    assert second == f"projector-{socket.gethostname()}-8023"


def test_a_restarted_projector_gets_its_id_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROJECTOR_INSTANCE_ID", raising=False)
    monkeypatch.delenv("PROJECTOR_PORT", raising=False)
    assert ProjectorSettings().projector_instance_id == ProjectorSettings().projector_instance_id


@pytest.mark.parametrize(("configured", "expected"), [("projector-a", "projector-a"), ("", None)])
def test_a_configured_id_wins_and_an_empty_one_counts_as_unset(
    monkeypatch: pytest.MonkeyPatch, configured: str, expected: str | None
) -> None:
    monkeypatch.setenv("PROJECTOR_INSTANCE_ID", configured)
    monkeypatch.setenv("PROJECTOR_PORT", "8123")
    found = ProjectorSettings().projector_instance_id
    assert found == (expected or f"projector-{socket.gethostname()}-8123")
