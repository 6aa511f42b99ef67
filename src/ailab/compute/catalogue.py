"""The GPU model catalogue: memory and peak dense FP16/BF16 TFLOPS, for PFLOP-days.

Figures are the vendors' dense (no sparsity) tensor-core peaks. A GPU that nvidia-smi
reports under another name is matched by the longest catalogue name it contains.
"""

from __future__ import annotations

from decimal import Decimal

# name -> (memory MiB, dense FP16/BF16 TFLOPS)
KNOWN: dict[str, tuple[int, Decimal]] = {
    "NVIDIA H200": (143_771, Decimal("989.4")),
    "NVIDIA H100 80GB HBM3": (81_559, Decimal("989.4")),
    "NVIDIA H100 PCIe": (81_559, Decimal("756.0")),
    "NVIDIA H100": (81_559, Decimal("989.4")),
    "NVIDIA A100-SXM4-80GB": (81_920, Decimal("312.0")),
    "NVIDIA A100-SXM4-40GB": (40_960, Decimal("312.0")),
    "NVIDIA A100": (40_960, Decimal("312.0")),
    "NVIDIA L40S": (46_068, Decimal("362.0")),
    "NVIDIA GeForce RTX 4090": (24_564, Decimal("165.2")),
    "Tesla V100-SXM2-32GB": (32_768, Decimal("125.0")),
    "virtual GPU": (0, Decimal("0.0")),
}

VIRTUAL = "virtual GPU"


def lookup(name: str) -> tuple[int, Decimal]:
    """Memory and TFLOPS for a reported GPU name; (0, 0) when it is not in the catalogue."""
    if name in KNOWN:
        return KNOWN[name]
    matches = [k for k in KNOWN if k.lower() in name.lower()]
    if matches:
        return KNOWN[max(matches, key=len)]
    return (0, Decimal(0))


def pflop_days(gpu_seconds: int, tflops: Decimal) -> Decimal:
    """GPU-seconds at a peak of ``tflops`` TFLOPS, as PFLOP-days (10^15 FLOP/s for a day)."""
    return (Decimal(gpu_seconds) * tflops / Decimal(1000 * 86400)).quantize(Decimal("0.0001"))
