"""GPUs on this machine: ``nvidia-smi`` where present, or ``AILAB_LOCAL_GPUS=N`` virtual ones.

``AILAB_LOCAL_GPUS`` wins when set (a laptop or CI with no GPU declares some; a DGX box can
declare fewer than it has). Jobs get their indices in ``CUDA_VISIBLE_DEVICES`` either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

VIRTUAL_MODEL = "virtual GPU"


@dataclass(frozen=True, slots=True)
class Gpu:
    index: int
    name: str
    memory_mb: int | None = None


class GpuConfigError(ValueError):
    """``AILAB_LOCAL_GPUS`` is not a whole number >= 0."""


def declared(environ: Mapping[str, str]) -> int | None:
    raw = environ.get("AILAB_LOCAL_GPUS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise GpuConfigError(f"AILAB_LOCAL_GPUS must be a whole number, got {raw!r}") from None
    if n < 0:
        raise GpuConfigError(f"AILAB_LOCAL_GPUS must be >= 0, got {n}")
    return n


def parse_nvidia_smi(output: str) -> list[Gpu]:
    """Parse ``nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits``."""
    gpus = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        memory = int(float(parts[2])) if parts[2].replace(".", "", 1).isdigit() else None
        gpus.append(Gpu(index=int(parts[0]), name=parts[1], memory_mb=memory))
    return sorted(gpus, key=lambda g: g.index)


def nvidia_smi() -> list[Gpu]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out)


def discover(environ: Mapping[str, str] | None = None) -> list[Gpu]:
    """The GPUs jobs may use on this machine (indices 0..n-1)."""
    env = os.environ if environ is None else environ
    n = declared(env)
    if n is not None:
        real = nvidia_smi() if n else []
        if len(real) >= n:
            return real[:n]
        return [Gpu(index=i, name=VIRTUAL_MODEL) for i in range(n)]
    return nvidia_smi()
