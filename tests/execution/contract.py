"""The backend contract suite: every backend passes the same tests (DESIGN.md rule 8).

How to run it against a backend: subclass :class:`BackendContract` in a ``test_*.py`` file and
provide two fixtures, ``backend`` (a ready instance) and ``shared_dir`` (a directory that both
this test process and the backend's jobs can read and write: on Slurm, a shared filesystem)::

    from tests.execution.contract import BackendContract

    class TestSlurmContract(BackendContract):
        min_time_limit_s = 60      # Slurm's time limits are whole minutes
        settle_s = 180             # how long to wait for a state change

        @pytest.fixture
        def backend(self, slurm_cluster): return SlurmBackend.from_env()

        @pytest.fixture
        def shared_dir(self, slurm_cluster): return Path("/shared/ailab-contract")

Tests use only the protocol in ``ailab.execution.base``. Tests that need a capability
(PREEMPT, GPU_PINNING) skip with the reason when the backend does not declare it; a backend
without GPUs skips the pinning test likewise.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ailab.execution.base import Backend, Capability, JobSpec, State, Status
from tests import unix


class BackendContract:
    min_time_limit_s = 1
    settle_s = 20.0
    poll_every_s = 0.1
    # The Unix account the contract's jobs run as (made with useradd when the tests run as
    # root; the current user otherwise). A backend's suite may name another.
    job_user = "ailabt-contract"

    # helpers ----------------------------------------------------------------------

    def spec(self, backend: Backend, command: list[str], **kw: object) -> JobSpec:
        gpus = int(kw.pop("gpus", 0))  # type: ignore[call-overload]
        pinned = Capability.GPU_PINNING in backend.capabilities
        nodes = backend.nodes()
        fields: dict[str, object] = {
            "job_id": f"c{uuid.uuid4().hex[:12]}",
            "name": "contract",
            "command": tuple(command),
            "gpus": gpus,
            "time_limit_s": 300,
            "node": nodes[0].name if pinned and nodes else None,
            "gpu_indices": tuple(range(gpus)) if pinned else (),
        }
        fields["user"], fields["uid"], fields["gid"] = unix.account(self.job_user)
        fields.update(kw)
        return JobSpec(**fields)  # type: ignore[arg-type]

    def wait(
        self, backend: Backend, eid: str, done: Callable[[Status], bool] | None = None
    ) -> Status:
        done = done or (lambda s: s.state.finished)
        deadline = time.monotonic() + self.settle_s
        while True:
            status = backend.poll([eid])[eid]
            if done(status) or time.monotonic() > deadline:
                return status
            time.sleep(self.poll_every_s)

    # the contract -------------------------------------------------------------------

    def test_declares_name_capabilities_and_nodes(self, backend: Backend) -> None:
        """A backend has a name, a set of capabilities and at least one node."""
        assert isinstance(backend, Backend)
        assert backend.name
        assert all(isinstance(c, Capability) for c in backend.capabilities)
        nodes = backend.nodes()
        assert nodes
        assert all(n.gpus >= 0 for n in nodes)

    def test_submit_returns_at_once_and_the_job_completes(
        self, backend: Backend, shared_dir: Path
    ) -> None:
        """submit returns before the job ends; a poll later says COMPLETED, exit 0, with
        aware UTC start and end times in order."""
        spec = self.spec(backend, ["sh", "-c", "sleep 2; echo done"])
        began = time.monotonic()
        eid = backend.submit(spec)
        assert time.monotonic() - began < 2
        assert isinstance(eid, str)
        assert eid
        status = self.wait(backend, eid)
        assert status.state == State.COMPLETED, status
        assert status.exit_code == 0
        assert status.started_at is not None
        assert status.ended_at is not None
        assert status.started_at.tzinfo is not None
        assert status.ended_at.utcoffset() == dt.timedelta(0)
        assert status.ended_at >= status.started_at

    def test_a_failing_command_is_failed_with_its_exit_code(self, backend: Backend) -> None:
        """A non-zero exit is FAILED, with the code."""
        eid = backend.submit(self.spec(backend, ["sh", "-c", "exit 3"]))
        status = self.wait(backend, eid)
        assert status.state == State.FAILED
        assert status.exit_code == 3

    def test_submit_is_idempotent(self, backend: Backend, shared_dir: Path) -> None:
        """Submitting the same job_id twice returns the same id and runs the command once."""
        marker = shared_dir / f"runs-{uuid.uuid4().hex[:8]}"
        spec = self.spec(backend, ["sh", "-c", f"echo run >> {marker}"])
        first = backend.submit(spec)
        second = backend.submit(spec)
        assert first == second
        assert self.wait(backend, first).state == State.COMPLETED
        assert marker.read_text() == "run\n"

    def test_unknown_ids_are_lost_not_dropped(self, backend: Backend) -> None:
        """poll answers for every id; one it never saw is LOST with a reason."""
        statuses = backend.poll(["never-submitted-123"])
        assert statuses["never-submitted-123"].state == State.LOST
        assert statuses["never-submitted-123"].reason

    def test_cancel_running_is_idempotent(self, backend: Backend) -> None:
        """cancel returns at once; a later poll says CANCELLED; cancelling again is fine."""
        eid = backend.submit(self.spec(backend, ["sleep", "120"]))
        self.wait(backend, eid, lambda s: s.state == State.RUNNING)
        began = time.monotonic()
        backend.cancel(eid)
        assert time.monotonic() - began < 2
        backend.cancel(eid)
        status = self.wait(backend, eid)
        assert status.state == State.CANCELLED
        backend.cancel(eid)
        assert backend.poll([eid])[eid].state == State.CANCELLED

    def test_cancel_finished_or_unknown_is_not_an_error(self, backend: Backend) -> None:
        """Cancelling a completed job leaves it COMPLETED; an unknown id is no error."""
        eid = backend.submit(self.spec(backend, ["true"]))
        assert self.wait(backend, eid).state == State.COMPLETED
        backend.cancel(eid)
        backend.cancel("never-submitted-456")
        assert backend.poll([eid])[eid].state == State.COMPLETED

    def test_time_limit_stops_the_job(self, backend: Backend) -> None:
        """A job past its time limit is stopped and reported TIMEOUT."""
        limit = self.min_time_limit_s
        eid = backend.submit(self.spec(backend, ["sleep", "600"], time_limit_s=limit))
        status = self.wait(backend, eid)
        assert status.state == State.TIMEOUT
        assert status.started_at is not None
        assert status.ended_at is not None
        assert (status.ended_at - status.started_at).total_seconds() >= limit * 0.9

    def test_preempt_stops_the_job_for_requeue(self, backend: Backend) -> None:
        """With PREEMPT: preempt a running job and a later poll says PREEMPTED."""
        if Capability.PREEMPT not in backend.capabilities:
            pytest.skip(f"{backend.name} does not declare PREEMPT")
        eid = backend.submit(self.spec(backend, ["sleep", "120"]))
        self.wait(backend, eid, lambda s: s.state == State.RUNNING)
        backend.preempt(eid)
        assert self.wait(backend, eid).state == State.PREEMPTED

    def test_gpu_pinning_sets_cuda_visible_devices(
        self, backend: Backend, shared_dir: Path
    ) -> None:
        """With GPU_PINNING: the job sees exactly its GPUs in CUDA_VISIBLE_DEVICES."""
        if Capability.GPU_PINNING not in backend.capabilities:
            pytest.skip(f"{backend.name} does not declare GPU_PINNING")
        gpus = max(n.gpus for n in backend.nodes())
        if gpus < 2:
            pytest.skip(f"{backend.name} has fewer than 2 GPUs on a node")
        out = shared_dir / f"cvd-{uuid.uuid4().hex[:8]}"
        spec = self.spec(backend, ["sh", "-c", f"echo $CUDA_VISIBLE_DEVICES > {out}"], gpus=2)
        spec = JobSpec(**{**{f: getattr(spec, f) for f in spec.__slots__}, "gpu_indices": (1, 0)})
        eid = backend.submit(spec)
        assert self.wait(backend, eid).state == State.COMPLETED
        assert out.read_text().strip() == "1,0"
