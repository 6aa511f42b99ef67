"""SlurmBackend against the real development cluster: submit, poll, cancel, errors; jobs
run as their own Unix users (the dev cluster's test members), charged what Slurm gave."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ailab.execution.base import Backend, BackendError, Capability, JobSpec, State, Status
from ailab.execution.slurm import SlurmBackend
from ailab.execution.slurm_commands import SlurmCommands

from .conftest import SlurmCluster

pytestmark = pytest.mark.slurm

MEMBER = "ailab-carol"  # the Unix user these jobs run as (made by slurm-dev-cluster.sh)


def spec(account: str, tmp_path: Path, *command: str, **kw: object) -> JobSpec:
    job_id = f"test-{uuid.uuid4().hex[:10]}"
    fields: dict[str, object] = {
        "job_id": job_id,
        "name": f"t-{job_id}",
        "command": command,
        "gpus": 0,
        "time_limit_s": 120,
        "account": account,
        "user": MEMBER,
        "workdir": str(tmp_path),
        "stdout_path": str(tmp_path / f"{job_id}.out"),
        "stderr_path": str(tmp_path / f"{job_id}.err"),
    }
    fields.update(kw)
    return JobSpec(**fields)  # type: ignore[arg-type]


def wait_state(
    backend: SlurmBackend, jid: str, done: Callable[[Status], bool], timeout: float = 30
) -> Status:
    deadline = time.monotonic() + timeout
    while True:
        status = backend.poll([jid])[jid]
        if done(status) or time.monotonic() > deadline:
            return status
        time.sleep(0.25)


@pytest.fixture
def account(make_account: Callable[..., str]) -> str:
    return make_account()


@pytest.fixture
def outdir() -> Iterator[Path]:
    """A directory every user can write (a job may run as a test member)."""
    path = Path(tempfile.mkdtemp(prefix="ailab-slurm-test-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_is_a_backend_that_schedules_and_accounts(slurm_cluster: SlurmCluster) -> None:
    """It implements the protocol, schedules and accounts by itself, and pins no GPUs."""
    backend = SlurmBackend()
    assert isinstance(backend, Backend)
    assert backend.capabilities == {Capability.SCHEDULES, Capability.ACCOUNTING}


def test_nodes_report_the_gres_gpus_and_real_hardware(slurm_cluster: SlurmCluster) -> None:
    """The one node declares 8 GPUs and the machine's own CPU count."""
    (node,) = [n for n in SlurmBackend().nodes() if n.name == slurm_cluster.node]
    assert node.gpus == 8
    assert node.cpus == os.cpu_count()
    assert node.memory_mb
    assert node.memory_mb > 0


def test_two_gpu_job_runs_with_cuda_visible_devices(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """A 2-GPU job sees two GPUs in CUDA_VISIBLE_DEVICES, its own env, and completes."""
    backend = SlurmBackend()
    s = spec(
        account,
        outdir,
        "bash",
        "-c",
        'echo "CVD=$CUDA_VISIBLE_DEVICES GREETING=$GREETING"',
        gpus=2,
        env={"GREETING": "it's a 'test'"},
    )
    jid = backend.submit(s)
    status = wait_state(backend, jid, lambda st: st.state.finished)
    assert status.state is State.COMPLETED, status
    assert status.exit_code == 0
    assert status.gpus == 2
    assert status.started_at
    assert status.ended_at
    assert status.ended_at >= status.started_at
    out = Path(s.stdout_path or "").read_text()
    cvd = out.split("CVD=")[1].split()[0]
    assert len(cvd.split(",")) == 2, out
    assert "GREETING=it's a 'test'" in out


def test_submit_is_idempotent_across_instances(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """The same ailab job id submitted twice (even by a fresh backend) is one Slurm job."""
    s = spec(account, outdir, "sleep", "2")
    first = SlurmBackend().submit(s)
    assert SlurmBackend().submit(s) == first
    assert SlurmBackend().submit(s) == first


def test_failing_job_reports_its_exit_code(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """A job exiting 3 is FAILED with exit code 3."""
    backend = SlurmBackend()
    jid = backend.submit(spec(account, outdir, "bash", "-c", "exit 3"))
    status = wait_state(backend, jid, lambda st: st.state.finished)
    assert status.state is State.FAILED
    assert status.exit_code == 3


def test_cancel_running_job_and_cancel_is_idempotent(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """A running job cancelled ends CANCELLED; cancelling again, or an unknown id, is fine."""
    backend = SlurmBackend()
    jid = backend.submit(spec(account, outdir, "sleep", "60", gpus=1))
    assert wait_state(backend, jid, lambda st: st.state is State.RUNNING).state is State.RUNNING
    backend.cancel(jid)
    assert wait_state(backend, jid, lambda st: st.state.finished).state is State.CANCELLED
    backend.cancel(jid)
    backend.cancel("99999999")


def test_unknown_id_is_lost_with_a_reason(slurm_cluster: SlurmCluster) -> None:
    """An id Slurm never had comes back LOST, not dropped."""
    status = SlurmBackend().poll(["99999998"])["99999998"]
    assert status.state is State.LOST
    assert "no trace" in status.reason


def test_job_over_budget_is_held_by_slurm_with_the_reason(
    slurm_cluster: SlurmCluster, make_account: Callable[..., str], outdir: Path
) -> None:
    """GrpTRESMins=gres/gpu=1 holds a 2-GPU, 5-minute job: PENDING, AssocGrpGRESMinutes."""
    account = make_account("b", gpu_minutes=1)
    backend = SlurmBackend()
    jid = backend.submit(spec(account, outdir, "sleep", "1", gpus=2, time_limit_s=300))
    status = wait_state(backend, jid, lambda st: st.reason.startswith("AssocGrpGRESMinutes"))
    assert status.state is State.PENDING
    assert status.reason.startswith("AssocGrpGRESMinutes: ")
    assert "budget" in status.reason
    backend.cancel(jid)


def test_failing_command_names_the_command_and_stderr(
    slurm_cluster: SlurmCluster, outdir: Path
) -> None:
    """sbatch refusing an unknown account raises BackendError with `sbatch` and its stderr."""
    with pytest.raises(BackendError) as info:
        SlurmBackend().submit(spec("no_such_account_here", outdir, "true"))
    message = str(info.value)
    assert "sbatch --parsable" in message
    assert "account" in message.lower()


def test_a_command_that_does_not_answer_times_out(slurm_cluster: SlurmCluster) -> None:
    """Every command has a timeout; passing it raises BackendError, it never hangs."""
    commands = SlurmCommands(timeout_s=0.2)
    with pytest.raises(BackendError, match="did not answer within"):
        commands.run(["sleep", "5"])


@pytest.fixture
def as_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("submitting as the jobs' users needs root (CI runs as root)", pytrace=False)


@pytest.mark.parametrize("user", ["ailab-alice", "ailab-bob"])
def test_job_runs_as_its_own_unix_user(
    slurm_cluster: SlurmCluster, as_root: None, account: str, outdir: Path, user: str
) -> None:
    """By default (AILAB_SLURM_SUBMIT_AS=user) a job runs as its user: `id -un` prints it,
    and Slurm records that user as the job's owner."""
    entry = pwd.getpwnam(user)
    backend = SlurmBackend.from_env({})
    s = spec(account, outdir, "id", "-un", user=user, uid=entry.pw_uid, gid=entry.pw_gid)
    jid = backend.submit(s)
    status = wait_state(backend, jid, lambda st: st.state.finished)
    assert status.state is State.COMPLETED, status
    assert Path(s.stdout_path or "").read_text().strip() == user
    assert Path(s.stdout_path or "").stat().st_uid == entry.pw_uid
    assert backend._squeue()[jid]["user_name"] == user  # the queue keeps it for MinJobAge


def test_output_without_paths_goes_to_the_users_own_directory(
    slurm_cluster: SlurmCluster, as_root: None, account: str, outdir: Path
) -> None:
    """Without a workdir or output path, a job runs and writes in <log dir>/<user>/, made
    0700 for that user: another job user cannot read it."""
    log_dir = outdir / "logs"
    backend = SlurmBackend(log_dir=str(log_dir))
    s = spec(
        account, outdir, "bash", "-c", "pwd; id -un",
        workdir=None, stdout_path=None, stderr_path=None,
    )  # fmt: skip
    jid = backend.submit(s)
    assert wait_state(backend, jid, lambda st: st.state.finished).state is State.COMPLETED
    home = log_dir / MEMBER
    assert home.stat().st_uid == pwd.getpwnam(MEMBER).pw_uid
    assert home.stat().st_mode & 0o777 == 0o700
    out = (home / f"slurm-{jid}.out").read_text().split()
    assert out == [str(home), MEMBER]


def test_a_name_with_a_newline_gets_no_gpus_from_it(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """Defence in depth (job_submit refuses such names first): a 0-GPU job named
    "x\n#SBATCH --gres=gpu:8" runs with no GPU at all, and its name has no newline."""
    backend = SlurmBackend()
    s = spec(
        account, outdir, "bash", "-c", 'echo "CVD=$CUDA_VISIBLE_DEVICES"',
        name="x\n#SBATCH --gres=gpu:8",
    )  # fmt: skip
    jid = backend.submit(s)
    status = wait_state(backend, jid, lambda st: st.state.finished)
    assert status.state is State.COMPLETED, status
    assert status.gpus == 0
    assert Path(s.stdout_path or "").read_text().strip() == "CVD="
    assert backend._squeue()[jid]["name"] == "x_#SBATCH --gres=gpu:8"


def test_status_reports_the_gpus_slurm_gave_not_the_request(
    slurm_cluster: SlurmCluster, make_account: Callable[..., str], outdir: Path
) -> None:
    """The dev cluster's job_submit.lua gives every job of a gpugift* account 2 GPUs: a
    0-GPU request comes back with gpus == 2, running and finished."""
    account = make_account("gpugift")
    backend = SlurmBackend()
    s = spec(account, outdir, "bash", "-c", 'echo "CVD=$CUDA_VISIBLE_DEVICES"; sleep 2')
    jid = backend.submit(s)
    running = wait_state(backend, jid, lambda st: st.state is not State.PENDING)
    assert running.gpus == 2, running
    status = wait_state(backend, jid, lambda st: st.state.finished)
    assert status.state is State.COMPLETED, status
    assert status.gpus == 2
    assert len(Path(s.stdout_path or "").read_text().split("CVD=")[1].split(",")) == 2


def test_a_job_without_a_user_is_refused(
    slurm_cluster: SlurmCluster, account: str, outdir: Path
) -> None:
    """No user: BackendError naming it; nothing reaches Slurm (no job with its comment)."""
    backend = SlurmBackend()
    s = spec(account, outdir, "true", user="")
    with pytest.raises(BackendError, match="has no user"):
        backend.submit(s)
    assert backend.find(s.job_id) is None
