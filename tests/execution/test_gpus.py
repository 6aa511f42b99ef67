"""GPU discovery: nvidia-smi output, and AILAB_LOCAL_GPUS for machines without GPUs."""

from __future__ import annotations

import pytest

from ailab.execution import gpus
from ailab.execution.registry import backend_class, get_backend

SMI = """0, NVIDIA H100 80GB HBM3, 81559
1, NVIDIA H100 80GB HBM3, 81559
"""


def test_parse_nvidia_smi() -> None:
    """Index, name and memory come from nvidia-smi's CSV."""
    found = gpus.parse_nvidia_smi(SMI)
    assert [g.index for g in found] == [0, 1]
    assert found[0].name == "NVIDIA H100 80GB HBM3"
    assert found[0].memory_mb == 81559


def test_declared_gpus_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    """AILAB_LOCAL_GPUS=N gives N virtual GPUs when the machine has none."""
    monkeypatch.setattr(gpus, "nvidia_smi", list)
    found = gpus.discover({"AILAB_LOCAL_GPUS": "3"})
    assert [(g.index, g.name) for g in found] == [(i, gpus.VIRTUAL_MODEL) for i in range(3)]


def test_declared_fewer_than_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU machine AILAB_LOCAL_GPUS limits how many of the real GPUs jobs get."""
    monkeypatch.setattr(gpus, "nvidia_smi", lambda: gpus.parse_nvidia_smi(SMI))
    assert [g.name for g in gpus.discover({"AILAB_LOCAL_GPUS": "1"})] == ["NVIDIA H100 80GB HBM3"]
    assert len(gpus.discover({})) == 2


@pytest.mark.parametrize("raw", ["two", "-1"])
def test_bad_declaration_is_an_error(raw: str) -> None:
    """A malformed AILAB_LOCAL_GPUS is refused naming the variable."""
    with pytest.raises(gpus.GpuConfigError, match="AILAB_LOCAL_GPUS"):
        gpus.discover({"AILAB_LOCAL_GPUS": raw})


def test_registry_names_backends(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """get_backend() follows AILAB_BACKEND (default local); unknown names say which exist."""
    monkeypatch.setenv("AILAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AILAB_LOCAL_GPUS", "2")
    monkeypatch.delenv("AILAB_BACKEND", raising=False)
    backend = get_backend()
    assert backend.name == "local"
    assert backend.nodes()[0].gpus == 2
    with pytest.raises(KeyError, match="known: "):
        backend_class("nope")
