"""The Slurm backend's pure parts, with a fake command runner: no cluster needed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest

from ailab.execution.base import BackendError, JobSpec, State
from ailab.execution.slurm import SlurmBackend, batch_script, gpus_from_tres, status_from_sacct
from ailab.execution.slurm_accounts import Account, Limits, diff, fairshare, gpu_minutes
from ailab.execution.slurm_commands import Completed
from ailab.execution.slurm_states import PENDING_REASONS, SLURM_STATES, reason_text, state_of

# Every base state in Slurm 22.05's slurm.h (job_states) and the flag-like states squeue prints.
SLURM_22_05_STATES = [
    "PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT",
    "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "COMPLETING",
    "CONFIGURING", "RESIZING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "SPECIAL_EXIT",
    "STOPPED", "REVOKED", "RESV_DEL_HOLD", "SIGNALING", "STAGE_OUT",
]  # fmt: skip


@pytest.mark.parametrize("name", SLURM_22_05_STATES)
def test_every_slurm_state_maps_to_an_ailab_state(name: str) -> None:
    """No Slurm state is left to guesswork."""
    assert name in SLURM_STATES
    assert isinstance(state_of(name), State)


def test_state_mapping_examples() -> None:
    """Waiting, holding resources and the ways to end map as one would expect."""
    assert state_of("PENDING") is State.PENDING
    assert state_of(["RUNNING"]) is State.RUNNING  # newer Slurm: a list
    assert state_of({"current": "CANCELLED", "reason": "None"}) is State.CANCELLED
    assert state_of("CANCELLED by 0") is State.CANCELLED
    assert state_of("COMPLETING") is State.RUNNING
    assert state_of("OUT_OF_MEMORY") is State.FAILED
    assert state_of("NODE_FAIL") is State.FAILED
    assert state_of("DEADLINE") is State.TIMEOUT
    assert state_of("PREEMPTED") is State.PREEMPTED


def test_unknown_state_raises_instead_of_guessing() -> None:
    with pytest.raises(BackendError, match="does not know"):
        state_of("WIBBLE")


@pytest.mark.parametrize(
    "reason", ["AssocGrpGRESMinutes", "AssocGrpGRESRunMinutes", "QOSMaxGRESMinutes"]
)
def test_budget_reasons_keep_slurm_code_and_add_words(reason: str) -> None:
    text = reason_text("PENDING", reason)
    assert text.startswith(f"{reason}: ")
    assert text.removeprefix(f"{reason}: ") == PENDING_REASONS[reason]


def test_reasons_without_words_pass_through_and_none_is_empty() -> None:
    assert reason_text("PENDING", "SomethingNew") == "SomethingNew"
    assert reason_text("PENDING", "None") == ""
    assert reason_text("SUSPENDED", "None") == "suspended by Slurm"


def test_gpus_from_tres_strings() -> None:
    assert gpus_from_tres("cpu=1,mem=1G,node=1,billing=1,gres/gpu=2") == 2
    assert gpus_from_tres("cpu=1,gres/gpu=4,gres/gpu:a100=4") == 4
    assert gpus_from_tres("cpu=1") is None


def test_batch_script_quotes_env_and_command() -> None:
    """Values with quotes and spaces survive; the command is exec'd; bad names refused."""
    spec = JobSpec("1.0", "n", ("echo", "a b", "it's"), 1, 60, env={"X": "y 'z'"})
    script = batch_script(spec)
    assert script.startswith("#!/bin/bash\n")
    assert "export X='y '\"'\"'z'\"'\"''" in script
    assert script.rstrip().endswith("exec echo 'a b' 'it'\"'\"'s'")
    with pytest.raises(BackendError):
        batch_script(JobSpec("1.0", "n", ("true",), 0, 60, env={"BAD-NAME": "1"}))


class FakeRunner:
    def __init__(self, replies: dict[str, Completed]) -> None:
        self.replies = replies
        self.calls: list[list[str]] = []

    def __call__(
        self, argv: Sequence[str], stdin: str | None, timeout_s: float, env: object
    ) -> Completed:
        self.calls.append(list(argv))
        return self.replies.get(argv[0], Completed(0, json.dumps({"jobs": []}), ""))


def test_sbatch_arguments_carry_gres_time_account_and_comment() -> None:
    backend = SlurmBackend(instance="lab1")
    spec = JobSpec(
        "7.0", "train", ("python", "t.py"), 2, 3601, account="team_a", workdir="/w",
        stdout_path="/w/o", stderr_path="/w/e", memory_mb=2048, cpus=4,
    )  # fmt: skip
    args = backend.sbatch_args(spec)
    assert args[:2] == ["sbatch", "--parsable"]
    for expected in [
        "--gres=gpu:2", "--time=0-01:01:00", "--account=team_a", "--job-name=train",
        "--comment=ailab:lab1:7.0", "--chdir=/w", "--output=/w/o", "--error=/w/e",
        "--mem=2048M", "--cpus-per-task=4", "--export=NONE",
    ]:  # fmt: skip
        assert expected in args
    assert backend.ailab_job_id("ailab:lab1:7.0") == "7.0"
    assert backend.ailab_job_id("ailab:other:7.0") == ""
    assert SlurmBackend().ailab_job_id("ailab:7.0") == "7.0"
    assert SlurmBackend().ailab_job_id("ailab:lab1:7.0") == ""


def test_failing_command_raises_with_command_and_stderr() -> None:
    runner = FakeRunner(
        {"sbatch": Completed(1, "", "sbatch: error: Batch job submission failed: Invalid account")}
    )
    backend = SlurmBackend(runner=runner)
    with pytest.raises(BackendError) as info:
        backend.submit(JobSpec("1.0", "n", ("true",), 0, 60, account="nope"))
    assert "`sbatch --parsable" in str(info.value)
    assert "Invalid account" in str(info.value)
    assert "exit status 1" in str(info.value)


def test_squeue_that_prints_garbage_is_an_error_not_a_state() -> None:
    backend = SlurmBackend(runner=FakeRunner({"squeue": Completed(0, "not json", "")}))
    with pytest.raises(BackendError, match="did not print JSON"):
        backend.poll(["1"])


def test_scancel_of_a_finished_job_is_not_an_error() -> None:
    runner = FakeRunner(
        {"scancel": Completed(1, "", "scancel: error: Job/step already completing or completed")}
    )
    SlurmBackend(runner=runner).cancel("5")
    runner = FakeRunner(
        {"scancel": Completed(1, "", "scancel: error: Unable to contact slurmctld")}
    )
    with pytest.raises(BackendError, match="slurmctld"):
        SlurmBackend(runner=runner).cancel("5")


def test_preempt_is_refused() -> None:
    with pytest.raises(BackendError, match="does not preempt"):
        SlurmBackend().preempt("1")


def test_status_from_sacct_reads_times_gpus_and_exit() -> None:
    job = {
        "job_id": 9,
        "state": {"current": "TIMEOUT", "reason": "None"},
        "time": {"start": 1_700_000_000, "end": 1_700_000_060, "elapsed": 60},
        "exit_code": {"status": "SIGNALED", "return_code": 0},
        "tres": {"allocated": [{"type": "gres", "name": "gpu", "count": 3}]},
        "nodes": "n1",
    }
    status = status_from_sacct(job)
    assert status.state is State.TIMEOUT
    assert status.gpus == 3
    assert status.started_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert status.ended_at is not None
    assert (status.ended_at - status.started_at).total_seconds() == 60
    assert status.node == "n1"


def test_account_limits_from_allocation_figures() -> None:
    assert gpu_minutes(3600 * 10) == 600
    assert gpu_minutes(119) == 1  # rounded down: Slurm never allows more than ailab
    assert fairshare(1.5) == 150
    assert fairshare(0.001) == 1


def test_diff_is_empty_when_in_step_and_names_every_difference() -> None:
    want = {"a": Account("a", "lab", Limits(100, 600, False), frozenset({"u1", "root"}))}
    assert diff(want, want) == []
    have = {
        "a": Account("a", "other", Limits(7, 600, False), frozenset({"u2", "root"})),
        "zz": Account("zz", "lab"),
    }
    kinds = [(c.kind, c.account) for c in diff(want, have)]
    assert kinds == [
        ("modify_account", "a"),
        ("add_users", "a"),
        ("remove_users", "a"),
        ("unmanaged", "zz"),
    ]
    (modify,) = [c for c in diff(want, have) if c.kind == "modify_account"]
    assert modify.move
    assert "Fairshare=7" in modify.detail
    assert [(c.kind, c.account) for c in diff(want, {})] == [
        ("add_account", "a"),
        ("add_users", "a"),
    ]


def test_a_job_cancelled_while_pending_never_started() -> None:
    """sacct gives such a job start == end and "None assigned": no start time, no node."""
    job = {
        "job_id": 10,
        "state": {"current": "CANCELLED", "reason": "None"},
        "time": {"start": 1_700_000_000, "end": 1_700_000_000, "elapsed": 0},
        "exit_code": {"status": "SUCCESS", "return_code": 0},
        "tres": {"allocated": []},
        "nodes": "None assigned",
    }
    status = status_from_sacct(job)
    assert status.state is State.CANCELLED
    assert status.started_at is None
    assert status.node is None
    assert status.ended_at is not None
