"""Helios-style workloads made from the public Helios tables: users, job names and tenants.

The per-job logs of SenseTime's Helios clusters are not at hand; what is (``shared/traces/
helios``) is the real table of each Venus virtual cluster's GPUs per day and, per cluster
(Venus, Earth, Saturn, Uranus), the number of GPU jobs, their average and median run time and
GPUs. :func:`helios_like` draws a workload with the shape those tables and the Helios paper
describe: tenants are the virtual clusters with their GPUs of a given day (scaled to the
cluster's size for the clusters without a table); each tenant has users, each user a few
recurring jobs (a name, a GPU count and a typical run time); run times are log-normal with the
cluster's median and mean (a heavy tail: a few names run for days); each run of a name varies
around its typical time; submissions follow a daily cycle, and tenants are loaded unevenly.

The generator is seeded and standard library only, so a workload is a pure function of its
arguments: different clusters, days (quota tables of different months) and seeds give
different, reproducible traces for evaluating policies on data they were not tuned on.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ailab.scheduling.model import Job
from ailab.scheduling.traces import Workload, scaled_cluster

GPU_SIZES = (1, 2, 4, 8, 16, 32, 64)
MAX_RUN_S = 5 * 86_400.0


@dataclass(frozen=True, slots=True)
class ClusterStats:
    """One row of ``cluster_summary.csv.gz``: what the generator is calibrated to."""

    name: str
    gpus: int
    gpu_jobs: int
    avg_run_s: float
    median_run_s: float
    avg_gpus: float


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def read_cluster_stats(path: Path) -> dict[str, ClusterStats]:
    """The per-cluster statistics of the Helios summary table."""
    out: dict[str, ClusterStats] = {}
    for row in _rows(path):
        out[row["id"]] = ClusterStats(
            row["id"],
            int(row["gpu_num"]),
            int(row["gpu_job_num"]),
            float(row["avg_run_time_gpu"]),
            float(row["med_run_time_gpu"]),
            float(row["avg_gpu_num"]),
        )
    return out


def read_vc_gpus(path: Path, day: str) -> dict[str, int]:
    """GPUs of each Venus virtual cluster on ``day`` (YYYY-MM-DD); VCs with none left out."""
    for row in _rows(path):
        if row["date"] == day:
            return {vc: int(v) for vc, v in row.items() if vc not in ("date", "total") and int(v)}
    raise ValueError(f"day {day!r} is not in {path}")


def _size_weights(avg: float, cap: int) -> list[tuple[int, float]]:
    """GPU counts up to ``cap`` with weights ~ g^-a, ``a`` chosen so the mean is ``avg``
    (as near as the sizes allow): most jobs ask for one GPU, a few for many."""
    sizes = [g for g in GPU_SIZES if g <= cap] or [1]

    def mean(a: float) -> float:
        w = [float(g) ** -a for g in sizes]
        return float(sum(g * x for g, x in zip(sizes, w, strict=True)) / sum(w))

    lo, hi = -2.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean(mid) > avg else (lo, mid)
    return [(g, float(g) ** -lo) for g in sizes]


def helios_like(
    stats: ClusterStats,
    vc_gpus: dict[str, int],
    *,
    days: float = 7.0,
    load: float = 0.35,
    seed: int = 0,
    scale: float = 1.0,
) -> Workload:
    """A workload on ``vc_gpus`` (scaled to ``stats.gpus`` in all) at ``scale`` of its nodes.

    ``load`` is the GPU-time offered over ``days`` as a fraction of all GPUs; tenants get
    uneven shares of it (log-normal around their GPUs' share). The jobs do not depend on
    ``scale``: the same trace replays on the full cluster and on a fraction of it.
    """
    rng = random.Random(f"{stats.name}/{seed}/{days}/{load}")
    total = sum(vc_gpus.values())
    nodes_of = {vc: max(1, round(g * stats.gpus / total / 8)) for vc, g in vc_gpus.items()}
    sigma = math.sqrt(2 * math.log(max(stats.avg_run_s / stats.median_run_s, 1.0001)))
    horizon = days * 86_400.0
    shares = {vc: rng.lognormvariate(0.0, 0.8) for vc in nodes_of}
    norm = sum(shares[vc] * nodes_of[vc] for vc in nodes_of) / sum(nodes_of.values())
    jobs: list[Job] = []
    for vc, nodes in nodes_of.items():
        gpus = nodes * 8
        target = min(shares[vc] / norm * load, 1.6) * gpus * horizon
        jobs.extend(_tenant_jobs(rng, stats, vc, gpus, target, horizon, sigma))
    jobs.sort(key=lambda j: (j.submit_time, j.id))
    cluster_nodes, tenants = scaled_cluster(nodes_of, scale=scale)
    return Workload(tuple(jobs), cluster_nodes, tenants)


def _tenant_jobs(
    rng: random.Random,
    stats: ClusterStats,
    vc: str,
    gpus: int,
    target: float,
    horizon: float,
    sigma: float,
) -> list[Job]:
    weights = _size_weights(stats.avg_gpus, gpus)
    sizes, w = [g for g, _ in weights], [x for _, x in weights]
    names = []
    for u in range(3 + gpus // 16):
        for n in range(rng.randint(2, 6)):
            typical = min(stats.median_run_s * rng.lognormvariate(0.0, sigma), MAX_RUN_S)
            names.append((f"{vc}-u{u}", f"exp{n}", rng.choices(sizes, w)[0], typical))
    popularity = [rng.paretovariate(1.2) for _ in names]
    out: list[Job] = []
    offered = 0.0
    while offered < target:
        user, name, g, typical = rng.choices(names, popularity)[0]
        run = max(1.0, min(typical * rng.lognormvariate(0.0, 0.5), MAX_RUN_S))
        when = _diurnal(rng, horizon)
        out.append(Job(f"{vc}-{len(out)}", vc, g, when, user=user, name=name, duration=run))
        offered += g * run
    return out


def _diurnal(rng: random.Random, horizon: float) -> float:
    """A submission time in ``[0, horizon)``, twice as likely at 15:00 as at 03:00."""
    while True:
        t = rng.uniform(0.0, horizon)
        if rng.random() < (1.0 + 0.5 * math.sin(2 * math.pi * (t / 86_400.0 - 0.375))) / 1.5:
            return t
