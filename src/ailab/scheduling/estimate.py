"""Run-time estimates learned online from the jobs that completed before.

No oracle: the estimator only ever sees the run times of jobs that have ended. A prediction is
the median of the latest ``window`` run times of the most specific group of earlier jobs that
has enough of them: same tenant, user, name and GPUs; then same tenant, user and name; same
tenant, user and GPUs; same tenant and GPUs; same tenant; everyone.

The live service keeps one estimator fed with its finished jobs and writes ``Job.estimate``;
the simulator's policies keep their own. :meth:`RuntimeEstimator.to_state` gives what it has
learned as plain JSON-able data (its groups keyed by tenant, user, job name and GPUs) and
:meth:`RuntimeEstimator.from_state` builds an estimator that predicts exactly the same, so the
live loop can keep it across restarts.
"""

from __future__ import annotations

import math
from typing import Any

from ailab.scheduling.model import Job

GroupKey = tuple[str | int, ...]

STATE_VERSION = 1
# the shape of each group key, by length: (tenant, user, name, GPUs) and its coarser groups
_KEY_SHAPES: dict[int, tuple[type, ...]] = {
    4: (str, str, str, int),
    3: (str, str, object),
    2: (str, int),
    1: (str,),
    0: (),
}


class EstimatorStateError(ValueError):
    """Saved estimator state that cannot be read; the message names the field and why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class RuntimeEstimator:
    """Windowed running median of run times per group of similar jobs."""

    __slots__ = ("_cache", "_runs", "default", "min_samples", "window")

    def __init__(self, *, window: int = 64, min_samples: int = 3, default: float = 3600.0):
        self.window = window
        self.min_samples = min_samples
        self.default = default
        self._runs: dict[GroupKey, list[float]] = {}
        self._cache: dict[GroupKey, float] = {}

    @staticmethod
    def groups(job: Job) -> tuple[GroupKey, ...]:
        """The groups a job belongs to, most specific first."""
        t, u, n, g = job.tenant, job.user, job.name, job.gpus
        return ((t, u, n, g), (t, u, n), (t, u, g), (t, g), (t,), ())

    def observe(self, job: Job, run_time: float) -> None:
        """Learn from a job that ran ``run_time`` seconds in all."""
        all_runs, cache, w = self._runs, self._cache, self.window
        for key in self.groups(job):
            runs = all_runs.get(key)
            if runs is None:
                all_runs[key] = [run_time]
            else:
                runs.append(run_time)
                if len(runs) > 2 * w:
                    del runs[:-w]
            cache.pop(key, None)

    @property
    def learned(self) -> bool:
        """Whether any run time was observed (else every prediction is ``default``)."""
        return bool(self._runs)

    def predict(self, job: Job) -> float:
        """The estimated run time of ``job`` in seconds."""
        for i, key in enumerate(self.groups(job)):
            runs = self._runs.get(key)
            if runs is None or (len(runs) < self.min_samples and i > 1):
                continue
            cached = self._cache.get(key)
            if cached is None:
                s = sorted(runs[-self.window :])
                m = len(s) // 2
                cached = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
                self._cache[key] = cached
            return cached
        return self.default

    # persistence -----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """What the estimator knows, as JSON-able data (dicts, lists, str, int, float).

        ``groups`` lists ``{"key": [tenant, user, name, gpus], "runs": [...]}`` (and the coarser
        keys), in a canonical order, each with its latest ``window`` run times, oldest first:
        all that :meth:`predict` reads, now and after later observations.
        """
        groups = [
            {"key": list(key), "runs": runs[-self.window :]}
            for key, runs in sorted(self._runs.items(), key=lambda kv: _sort_key(kv[0]))
        ]
        return {
            "version": STATE_VERSION,
            "window": self.window,
            "min_samples": self.min_samples,
            "default": self.default,
            "groups": groups,
        }

    @classmethod
    def from_state(cls, state: object) -> RuntimeEstimator:
        """An estimator that predicts as the one that wrote ``state`` with :meth:`to_state`.

        Raises :class:`EstimatorStateError` naming the field at fault; nothing half-read.
        """
        if not isinstance(state, dict):
            raise EstimatorStateError("state", "must be an object")
        if state.get("version") != STATE_VERSION:
            raise EstimatorStateError("version", f"must be {STATE_VERSION}")
        window = _whole(state.get("window"), "window", 1)
        min_samples = _whole(state.get("min_samples"), "min_samples", 0)
        default = _seconds(state.get("default"), "default")
        groups = state.get("groups")
        if not isinstance(groups, list):
            raise EstimatorStateError("groups", "must be a list")
        runs: dict[GroupKey, list[float]] = {}
        for i, group in enumerate(groups):
            where = f"groups[{i}]"
            if not isinstance(group, dict):
                raise EstimatorStateError(where, "must be an object")
            key = _group_key(group.get("key"), f"{where}.key")
            if key in runs:
                raise EstimatorStateError(f"{where}.key", "appears twice")
            values = group.get("runs")
            if not isinstance(values, list) or not values:
                raise EstimatorStateError(f"{where}.runs", "must be a non-empty list")
            runs[key] = [_seconds(v, f"{where}.runs[{k}]") for k, v in enumerate(values)]
        est = cls(window=window, min_samples=min_samples, default=default)
        est._runs = runs
        return est


def _sort_key(key: GroupKey) -> tuple[int, tuple[tuple[int, str | int], ...]]:
    # names before GPU counts where a position holds either (keys of three parts)
    return (-len(key), tuple((0, k) if isinstance(k, str) else (1, k) for k in key))


def _whole(value: object, field: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise EstimatorStateError(field, f"must be a whole number of at least {low}")
    return value


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EstimatorStateError(field, "must be a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise EstimatorStateError(field, "must be finite and not negative")
    return float(value)


def _group_key(value: object, field: str) -> GroupKey:
    if not isinstance(value, list) or len(value) not in _KEY_SHAPES:
        raise EstimatorStateError(field, "must be a list of 0 to 4 parts")
    shape = _KEY_SHAPES[len(value)]
    for part, kind in zip(value, shape, strict=True):
        ok = isinstance(part, str | int) if kind is object else isinstance(part, kind)
        if not ok or isinstance(part, bool):
            raise EstimatorStateError(field, f"part {part!r} is not a {kind.__name__}")
    return tuple(value)
