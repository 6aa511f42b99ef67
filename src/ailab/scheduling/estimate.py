"""Run-time estimates learned online from the jobs that completed before.

No oracle: the estimator only ever sees the run times of jobs that have ended. A prediction is
the median of the latest ``window`` run times of the most specific group of earlier jobs that
has enough of them: same tenant, user, name and GPUs; then same tenant, user and name; same
tenant, user and GPUs; same tenant and GPUs; same tenant; everyone.

The live service keeps one estimator fed with its finished jobs and writes ``Job.estimate``;
the simulator's policies keep their own.
"""

from __future__ import annotations

from ailab.scheduling.model import Job

GroupKey = tuple[str | int, ...]


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
