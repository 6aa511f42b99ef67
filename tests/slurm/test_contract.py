"""The backend contract suite (tests/execution/contract.py) against SlurmBackend."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ailab.execution.slurm import SlurmBackend
from tests.execution.contract import BackendContract

from .conftest import SlurmCluster

pytestmark = pytest.mark.slurm


@pytest.fixture
def shared_dir(slurm_cluster: SlurmCluster) -> Iterator[Path]:
    """On the one-node development cluster, a local directory is shared by the jobs."""
    path = Path(tempfile.mkdtemp(prefix="ailab-slurm-contract-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def backend(slurm_cluster: SlurmCluster, shared_dir: Path) -> SlurmBackend:
    """The contract's jobs have no user: the explicit service mode runs them as ailab's own
    (the per-user default refuses them; tests/slurm/test_backend.py runs jobs as users)."""
    return SlurmBackend(log_dir=str(shared_dir), submit_as="service")


class TestSlurmContract(BackendContract):
    """The shared contract, against the development Slurm cluster."""

    min_time_limit_s = 60  # Slurm's time limits are whole minutes
    settle_s = 150  # slurmctld checks time limits about every 30 s
    poll_every_s = 0.25
