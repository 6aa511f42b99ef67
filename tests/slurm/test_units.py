"""The Slurm backend's pure parts, with a fake command runner: no cluster needed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from ailab.execution.base import BackendError, JobSpec, State
from ailab.execution.slurm import (
    SlurmBackend,
    batch_script,
    gpus_from_tres,
    status_from_sacct,
    status_from_squeue,
)
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
        self.stdins: list[str | None] = []
        self.envs: list[dict[str, str] | None] = []

    def __call__(
        self,
        argv: Sequence[str],
        stdin: str | None,
        timeout_s: float,
        env: dict[str, str] | None,
    ) -> Completed:
        self.calls.append(list(argv))
        self.stdins.append(stdin)
        self.envs.append(env)
        command = "sbatch" if "sbatch" in argv else argv[0]
        return self.replies.get(command, Completed(0, json.dumps({"jobs": []}), ""))


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
    backend = SlurmBackend(runner=runner, submit_as="service")
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


# Job isolation (issue 9) -------------------------------------------------------------------

INJECTED = "train\n#SBATCH --gres=gpu:8\n#SBATCH --qos=high"


def _directives(script: str) -> list[str]:
    """The lines sbatch reads as directives: ``#SBATCH`` lines before the first command."""
    found = []
    for line in script.splitlines()[1:]:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if line.lstrip().startswith("#SBATCH"):
            found.append(line)
    return found


def test_a_name_with_a_newline_cannot_inject_sbatch_lines() -> None:
    """A job name holding "\\n#SBATCH --gres=gpu:8" adds no directive to the script and no
    option to sbatch: the script has no #SBATCH line at all, the name is one argument with
    the newlines replaced, and the only --gres is none for a 0-GPU job."""
    spec = JobSpec("3.0", INJECTED, ("python", "t.py"), 0, 60, account="team_a")
    script = batch_script(spec)
    assert _directives(script) == []
    assert "#SBATCH" not in script
    assert INJECTED.splitlines()[1] not in script
    args = SlurmBackend(submit_as="service").sbatch_args(spec)
    assert [a for a in args if "gres" in a or "qos" in a] == [
        "--job-name=train_#SBATCH --gres=gpu:8_#SBATCH --qos=high"
    ]
    assert not any("\n" in a for a in args)
    assert not any(a.startswith("--gres") for a in args)


def test_a_value_with_newlines_stays_inside_its_quotes() -> None:
    """Environment values and arguments with newlines and #SBATCH stay quoted, after the
    first command, so they are never directives."""
    spec = JobSpec(
        "4.0", "n", ("echo", "x\n#SBATCH --gres=gpu:8"), 0, 60, env={"A": "1\n#SBATCH --qos=hi"}
    )
    script = batch_script(spec)
    assert _directives(script) == []
    assert "export A='1\n#SBATCH --qos=hi'" in script
    assert script.rstrip().endswith("exec echo 'x\n#SBATCH --gres=gpu:8'")


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("workdir", "/w\n#SBATCH --gres=gpu:8", "workdir"),
        ("stdout_path", "/w/o\r", "stdout path"),
        ("stderr_path", "/w/e\u202e", "stderr path"),
    ],
)
def test_paths_with_control_characters_are_refused_naming_them(
    field: str, value: str, what: str
) -> None:
    """A path is never rewritten (a changed path is somebody else's): it is refused."""
    spec = JobSpec("5.0", "n", ("true",), 0, 60, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(BackendError, match=f"{what} must not contain control"):
        SlurmBackend(submit_as="service").sbatch_args(spec)


def test_unsafe_job_ids_accounts_and_instances_are_refused() -> None:
    with pytest.raises(BackendError, match="job id"):
        batch_script(JobSpec("1\n#SBATCH -G8", "n", ("true",), 0, 60))
    with pytest.raises(BackendError, match="account"):
        SlurmBackend(submit_as="service").sbatch_args(
            JobSpec("1.0", "n", ("true",), 0, 60, account="a\n#SBATCH --qos=high")
        )
    with pytest.raises(BackendError, match="AILAB_SLURM_INSTANCE"):
        SlurmBackend(instance="x y")
    with pytest.raises(BackendError, match="AILAB_SLURM_SUBMIT_AS"):
        SlurmBackend(submit_as="root")


def test_a_job_without_a_user_is_refused_not_run_as_the_service_user() -> None:
    """Per-user mode (the default): no user -> BackendError naming it; sbatch never runs."""
    runner = FakeRunner({})
    with pytest.raises(BackendError, match="has no user") as info:
        SlurmBackend(runner=runner).submit(JobSpec("6.0", "n", ("true",), 0, 60))
    assert "AILAB_SLURM_SUBMIT_AS=service" in str(info.value)
    assert runner.calls == []


@pytest.mark.parametrize(
    ("user", "uid", "message"),
    [
        ("no-such-user-here", None, "has no Unix account on this machine"),
        ("Bad;Name", None, "not a valid Unix username"),
        ("root", None, "never submits a job as root"),
        ("nobody", 12345, "has uid 65534 on this machine, but the lab assigned uid 12345"),
    ],
)
def test_a_user_that_does_not_match_this_machine_is_refused(
    user: str, uid: int | None, message: str
) -> None:
    """The job's Unix user must exist here, not be root, and have the uid the lab assigned."""
    runner = FakeRunner({})
    spec = JobSpec("7.0", "n", ("true",), 0, 60, user=user, uid=uid)
    with pytest.raises(BackendError, match=message):
        SlurmBackend(runner=runner).submit(spec)
    assert not any("sbatch" in call for call in runner.calls)


def test_submit_runs_sbatch_as_the_jobs_user_with_the_script_on_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As root: `runuser -u USER -- sbatch ...`; as another user (SlurmUser): `sbatch
    --uid`. The script goes on stdin (the user reads it), and sbatch gets a clean
    environment: none of the server's secrets."""
    import os

    monkeypatch.setenv("AILAB_SECRET_KEY", "server-secret")
    runner = FakeRunner({"sbatch": Completed(0, "42\n", "")})
    backend = SlurmBackend(runner=runner, log_dir="")
    spec = JobSpec("8.0", "n", ("id", "-un"), 0, 60, user="nobody", uid=65534, workdir="/tmp")
    assert backend.submit(spec) == "42"
    (call,) = [c for c in runner.calls if "sbatch" in c]
    if os.geteuid() == 0:
        assert call[:4] == ["runuser", "-u", "nobody", "--"]
        assert call[4] == "sbatch"
    else:
        assert call[0] == "sbatch"
        assert "--uid=65534" in call
    stdin = runner.stdins[runner.calls.index(call)]
    assert stdin == batch_script(spec)
    env = runner.envs[runner.calls.index(call)] or {}
    assert "AILAB_SECRET_KEY" not in env
    assert set(env) <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SLURM_CONF"}
    assert env["PATH"]


def test_service_mode_submits_every_job_as_ailab_itself() -> None:
    """AILAB_SLURM_SUBMIT_AS=service: no runuser, no --uid, whoever the job's user is."""
    runner = FakeRunner({"sbatch": Completed(0, "43\n", "")})
    backend = SlurmBackend.from_env({"AILAB_SLURM_SUBMIT_AS": "service"})
    backend.commands.runner = runner
    backend.submit(JobSpec("9.0", "n", ("true",), 0, 60, user="nobody", workdir="/tmp"))
    (call,) = [c for c in runner.calls if "sbatch" in c]
    assert call[0] == "sbatch"
    assert not any(a.startswith("--uid") for a in call)
    assert SlurmBackend.from_env({}).submit_as == "user"


def test_gpus_come_from_what_slurm_allocated_never_the_request() -> None:
    """squeue: tres_alloc_str, not tres_req_str (0 when Slurm gave none, None while it has
    given nothing yet); sacct: tres.allocated (0 when it names no GPU)."""
    running = {
        "job_id": 1, "job_state": "RUNNING", "nodes": "n1", "start_time": 1_700_000_000,
        "tres_req_str": "cpu=1,mem=1G,node=1", "tres_alloc_str": "cpu=1,mem=1G,gres/gpu=2",
    }  # fmt: skip
    assert status_from_squeue(running).gpus == 2
    none_given = {**running, "tres_req_str": "cpu=1,gres/gpu=4", "tres_alloc_str": "cpu=1"}
    assert status_from_squeue(none_given).gpus == 0
    pending = {"job_id": 2, "job_state": "PENDING", "tres_req_str": "cpu=1,gres/gpu=4"}
    assert status_from_squeue(pending).gpus is None
    finished = {
        "job_id": 3,
        "state": {"current": "COMPLETED", "reason": "None"},
        "time": {"start": 1_700_000_000, "end": 1_700_000_010, "elapsed": 10},
        "exit_code": {"status": "SUCCESS", "return_code": 0},
        "tres": {
            "requested": [{"type": "gres", "name": "gpu", "count": 8}],
            "allocated": [{"type": "cpu", "name": "", "count": 1}],
        },
        "nodes": "n1",
    }
    assert status_from_sacct(finished).gpus == 0


def test_user_dir_is_the_users_own_and_never_a_link(tmp_path: Path) -> None:
    """As root: <log_dir>/<user> is made 0700 and owned by the user; a link there is
    refused, as is a directory of somebody else."""
    import os
    import stat

    from ailab.execution.slurm_script import Submitter, user_dir

    if os.geteuid() != 0:
        pytest.skip("making a directory for another user needs root (CI runs as root)")
    nobody = Submitter("nobody", 65534, 65534, "/nonexistent", "runuser")
    path = Path(user_dir(str(tmp_path / "logs"), nobody))
    info = path.lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o700)
    assert user_dir(str(tmp_path / "logs"), nobody) == str(path)  # again: the same
    other = Submitter("daemon", 1, 1, "/", "runuser")
    (tmp_path / "logs" / "daemon").symlink_to("/etc")
    with pytest.raises(BackendError, match="not a directory"):
        user_dir(str(tmp_path / "logs"), other)
    (tmp_path / "logs" / "daemon").unlink()
    (tmp_path / "logs" / "daemon").mkdir()
    os.chown(tmp_path / "logs" / "daemon", 65534, 65534)
    with pytest.raises(BackendError, match="belongs to uid 65534"):
        user_dir(str(tmp_path / "logs"), other)


def test_the_data_directory_holds_no_job_output_in_per_user_mode() -> None:
    """The data directory is closed to job users: per user, jobs without a workdir go to
    AILAB_SLURM_LOG_DIR or the user's home; only service mode defaults to $DATA/slurm."""
    assert SlurmBackend.from_env({"AILAB_DATA_DIR": "/data"}).log_dir == ""
    service = {"AILAB_DATA_DIR": "/data", "AILAB_SLURM_SUBMIT_AS": "service"}
    assert SlurmBackend.from_env(service).log_dir == "/data/slurm"
    assert SlurmBackend.from_env({"AILAB_SLURM_LOG_DIR": "/shared/jobs"}).log_dir == (
        "/shared/jobs"
    )


def test_isolated_unless_every_job_runs_as_the_service_user() -> None:
    """Per-user submission (the default) isolates jobs; the service user does not."""
    assert SlurmBackend.isolated_from_env({}) is True
    assert SlurmBackend.isolated_from_env({"AILAB_SLURM_SUBMIT_AS": "user"}) is True
    assert SlurmBackend.isolated_from_env({"AILAB_SLURM_SUBMIT_AS": "service"}) is False


def test_another_users_job_with_our_comment_does_not_stand_in_for_ours() -> None:
    """Anyone may give a job the comment ailab:<job>: submit reuses a queued job with that
    comment only if it is the same user's (and account's); otherwise it submits."""
    queued = {
        "job_id": 77, "job_state": "PENDING", "comment": "ailab:10.0", "account": "team",
        "user_name": "ailab-mallory",
    }  # fmt: skip
    runner = FakeRunner(
        {
            "squeue": Completed(0, json.dumps({"jobs": [queued]}), ""),
            "sbatch": Completed(0, "78", ""),
        }
    )
    spec = JobSpec("10.0", "n", ("true",), 0, 60, account="team", user="nobody", workdir="/tmp")
    assert SlurmBackend(runner=runner).submit(spec) == "78"
    mine = {**queued, "user_name": "nobody"}
    runner = FakeRunner({"squeue": Completed(0, json.dumps({"jobs": [mine]}), "")})
    assert SlurmBackend(runner=runner).submit(spec) == "77"
    assert not any("sbatch" in call for call in runner.calls)
