"""The key a run's usage is charged under: one place, since the loop's ``finish`` and the
Slurm accounting importer must agree on it (two spellings would charge a run twice)."""

from __future__ import annotations


def usage_key(job_id: int, run: int) -> str:
    """``job:<id>:run:<n>``: unique per cluster (``Usage``'s constraint), so a run is charged
    once whichever side sees it first."""
    return f"job:{job_id}:run:{run}"
