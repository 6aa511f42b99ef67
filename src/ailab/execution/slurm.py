"""The Slurm backend: Slurm schedules and runs the jobs; ailab submits, polls and cancels.

- ``submit`` pipes a generated batch script to ``sbatch --parsable`` with ``--gres=gpu:N``,
  ``--time``, ``--account``, ``--job-name``, ``--comment=ailab:<job id>`` and output files,
  as the job's own Unix user (``ailab.execution.slurm_script``: ``runuser`` when ailab runs
  as root, ``sbatch --uid`` as ``SlurmUser``); one service user for every job only with
  ``AILAB_SLURM_SUBMIT_AS=service``. The script travels on stdin, so that user reads it.
  It is idempotent: it first looks for a job carrying that comment (``squeue``, then
  ``sacct``) and returns its id instead of submitting again.
- ``poll`` reads ``squeue --json`` (22.05 ignores ``-j`` there, so it reads the whole queue
  once) and asks ``sacct --json -j`` about the ids the queue no longer holds. Pending
  reasons (``AssocGrpGRESMinutes``...) come back as the status's reason, and the GPUs are
  the ones Slurm allocated (``AllocTRES``), never the request.
- ``cancel`` is ``scancel``; cancelling a finished or unknown job is not an error.

Capabilities: ``SCHEDULES`` (ailab's planner stands aside) and ``ACCOUNTING`` (GPU-seconds
come from ``sacct``); not ``GPU_PINNING`` (Slurm picks the GPUs and sets
``CUDA_VISIBLE_DEVICES``) nor ``PREEMPT``.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ailab.execution.base import (
    BackendError,
    Capability,
    JobSpec,
    NodeInfo,
    State,
    Status,
)
from ailab.execution.slurm_accounts import check_name
from ailab.execution.slurm_commands import DEFAULT_TIMEOUT_S, Runner, SlurmCommands
from ailab.execution.slurm_records import (
    dict_of,
    exit_code_from_squeue,
    gpus_from_tres,
    sacct_comment,
    status_from_sacct,
    status_from_squeue,
)
from ailab.execution.slurm_script import (
    SUBMIT_AS_SERVICE,
    SUBMIT_AS_USER,
    SUBMIT_MODES,
    Submitter,
    batch_script,
    checked_id,
    checked_text,
    clean_name,
    submitter_for,
    user_dir,
)
from ailab.execution.slurm_states import state_of

__all__ = [
    "FinishedJob",
    "SlurmBackend",
    "batch_script",
    "gpus_from_tres",
    "status_from_sacct",
    "status_from_squeue",
]

COMMENT_PREFIX = "ailab:"
DEFAULT_LOOKBACK_DAYS = 7
_GPU_GRES = re.compile(r"gpu(?::[^:(,]+)?:(\d+)")


def _time_limit(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))  # Slurm counts whole minutes: round up
    return f"{minutes // 1440}-{(minutes % 1440) // 60:02d}:{minutes % 60:02d}:00"


class SlurmBackend:
    """Jobs on a real Slurm cluster through its commands (see the module docstring)."""

    name = "slurm"
    capabilities = frozenset({Capability.SCHEDULES, Capability.ACCOUNTING})

    def __init__(
        self,
        *,
        cluster: str = "",
        partition: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        submit_as: str = SUBMIT_AS_USER,
        instance: str = "",
        log_dir: str = "",
        runner: Runner | None = None,
        slurm_conf: str | None = None,
    ) -> None:
        if submit_as not in SUBMIT_MODES:
            raise BackendError(
                f"AILAB_SLURM_SUBMIT_AS must be one of {', '.join(SUBMIT_MODES)}, not {submit_as!r}"
            )
        if instance:
            checked_id(instance, "AILAB_SLURM_INSTANCE")
        self.cluster = cluster
        # Two ailab installations (or a test database) on one Slurm cluster reuse job ids:
        # the instance name keeps their comments apart.
        self.instance = instance
        # Where jobs without their own output paths write (and run, without a workdir);
        # on a real cluster, a directory every node sees.
        self.log_dir = log_dir
        self.partition = partition
        self.lookback_days = lookback_days
        self.submit_as = submit_as
        self.commands = SlurmCommands(timeout_s=timeout_s, runner=runner, slurm_conf=slurm_conf)
        self._known: dict[str, str] = {}  # ailab job id -> Slurm job id

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SlurmBackend:
        """Configured by ``AILAB_SLURM_CLUSTER``, ``AILAB_SLURM_PARTITION``,
        ``AILAB_SLURM_TIMEOUT`` (seconds per command), ``AILAB_SLURM_SUBMIT_AS`` (``user``,
        the default: each job as its owner's Unix user; ``service``: every job as ailab's own),
        ``AILAB_SLURM_INSTANCE`` (this installation's name in job comments),
        ``AILAB_SLURM_LOG_DIR`` (where jobs without a workdir run; default: in service mode
        ``$AILAB_DATA_DIR/slurm``, per user the user's home, as the data directory is closed
        to job users) and ``SLURM_CONF``."""
        env = os.environ if environ is None else environ
        submit_as = env.get("AILAB_SLURM_SUBMIT_AS", "") or SUBMIT_AS_USER
        data_dir = env.get("AILAB_DATA_DIR", "") if submit_as == SUBMIT_AS_SERVICE else ""
        return cls(
            cluster=env.get("AILAB_SLURM_CLUSTER", ""),
            partition=env.get("AILAB_SLURM_PARTITION", ""),
            timeout_s=float(env.get("AILAB_SLURM_TIMEOUT", DEFAULT_TIMEOUT_S)),
            submit_as=submit_as,
            instance=env.get("AILAB_SLURM_INSTANCE", ""),
            log_dir=env.get("AILAB_SLURM_LOG_DIR", "")
            or (os.path.join(data_dir, "slurm") if data_dir else ""),
            slurm_conf=env.get("SLURM_CONF") or None,
        )

    @classmethod
    def isolated_from_env(cls, environ: Mapping[str, str] | None = None) -> bool:
        """Jobs run as their owners' Unix users unless ``AILAB_SLURM_SUBMIT_AS=service``."""
        env = os.environ if environ is None else environ
        return (env.get("AILAB_SLURM_SUBMIT_AS", "") or SUBMIT_AS_USER) == SUBMIT_AS_USER

    def _cluster_args(self) -> list[str]:
        return ["-M", self.cluster] if self.cluster else []

    # -- nodes ------------------------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        data = self.commands.json(["sinfo", "--json", *self._cluster_args()])
        seen: dict[str, NodeInfo] = {}
        for node in data.get("nodes") or []:
            name = str(node.get("name", ""))
            if not name or name in seen:
                continue
            gres = str(node.get("gres", ""))
            gpus = sum(int(n) for n in _GPU_GRES.findall(gres))
            model = re.search(r"gpu:([^:(,]+):\d+", gres)
            memory = node.get("real_memory")
            cpus = node.get("cpus")
            seen[name] = NodeInfo(
                name=name,
                gpus=gpus,
                gpu_model=model.group(1) if model else "",
                cpus=cpus if isinstance(cpus, int) else None,
                memory_mb=memory if isinstance(memory, int) else None,
            )
        return sorted(seen.values(), key=lambda n: n.name)

    # -- submit -----------------------------------------------------------------------------

    def sbatch_args(self, spec: JobSpec, submitter: Submitter | None = None) -> list[str]:
        """The ``sbatch`` command line for ``spec``, run as ``submitter`` (see
        ``slurm_script.submitter_for``). Every piece of user text is checked or cleaned."""
        args = [
            "sbatch",
            "--parsable",
            f"--job-name={job_name(spec)}",
            f"--comment={self.comment(checked_id(spec.job_id, 'job id'))}",
            f"--time={_time_limit(spec.time_limit_s)}",
            "--nodes=1",
            "--ntasks=1",
            f"--cpus-per-task={max(1, int(spec.cpus))}",
            # Only the job's own environment (in the script), not ailab's.
            "--export=NONE",
        ]
        args += self._cluster_args()
        if spec.gpus > 0:
            args.append(f"--gres=gpu:{int(spec.gpus)}")
        if spec.memory_mb:
            args.append(f"--mem={int(spec.memory_mb)}M")
        if spec.account:
            args.append(f"--account={_slurm_name(spec.account, 'account')}")
        if self.partition:
            args.append(f"--partition={_slurm_name(self.partition, 'partition')}")
        # Never the directory ailab runs in: the job's own, or one made for its user.
        workdir = spec.workdir or self._default_dir(submitter)
        args.append(f"--chdir={checked_text(workdir, 'workdir')}")
        # Slurm's own default name, in the job's directory, where its user may write.
        out = spec.stdout_path or os.path.join(workdir, "slurm-%j.out")
        args.append(f"--output={checked_text(out, 'stdout path')}")
        if spec.stderr_path:
            args.append(f"--error={checked_text(spec.stderr_path, 'stderr path')}")
        return submitter.wrap(args) if submitter is not None else args

    def _default_dir(self, submitter: Submitter | None) -> str:
        """Where a job without a workdir runs and writes: the log directory for jobs ailab
        runs as itself; for another user's, that user's own directory under it (made when
        ailab is root), else that user's home; ``/tmp`` as the last resort."""
        if submitter is None or submitter.how == "self":
            if self.log_dir:
                os.makedirs(self.log_dir, exist_ok=True)
                return self.log_dir
        elif self.log_dir and os.geteuid() == 0:
            return user_dir(self.log_dir, submitter)
        if submitter is not None and os.path.isdir(submitter.home):
            return submitter.home
        return "/tmp"

    def submit(self, spec: JobSpec) -> str:
        if spec.job_id in self._known:
            return self._known[spec.job_id]
        submitter = submitter_for(spec, self.submit_as)  # refuses before anything runs
        owner = submitter.username if submitter else pwd.getpwuid(os.geteuid()).pw_name
        existing = self.find(spec.job_id, account=spec.account, name=job_name(spec), user=owner)
        if existing:
            self._known[spec.job_id] = existing
            return existing
        done = self.commands.run(self.sbatch_args(spec, submitter), stdin=batch_script(spec))
        # --parsable prints "<jobid>" or "<jobid>;<cluster>"
        external_id = done.stdout.strip().split(";")[0]
        if not external_id.isdigit():
            raise BackendError(f"sbatch printed no job id: {done.stdout!r} {done.stderr!r}")
        self._known[spec.job_id] = external_id
        return external_id

    def comment(self, job_id: str) -> str:
        """``ailab:<job id>``, or ``ailab:<instance>:<job id>`` with an instance name."""
        return (
            f"{COMMENT_PREFIX}{self.instance}:{job_id}"
            if self.instance
            else (f"{COMMENT_PREFIX}{job_id}")
        )

    def ailab_job_id(self, comment: str) -> str:
        """The ailab job id in a comment this installation wrote ('' for any other)."""
        prefix = self.comment("")
        if not comment.startswith(prefix):
            return ""
        rest = comment.removeprefix(prefix)
        return "" if not self.instance and ":" in rest else rest

    def find(self, job_id: str, *, account: str = "", name: str = "", user: str = "") -> str | None:
        """The Slurm id of the newest job this installation submitted for ``job_id`` (under
        ``account``, named ``name`` and owned by Unix user ``user``, when given), if Slurm
        knows one. Anyone can give their own job an ``ailab:`` comment: the owner check keeps
        another user's job from standing in for this one."""
        comment = self.comment(job_id)

        def ours(job: Mapping[str, Any], text: str) -> bool:
            owner = str(job.get("user_name") or job.get("user") or "")
            return (
                text == comment
                and (not account or job.get("account") == account)
                and (not user or owner == user)
            )

        queue = self._squeue()
        hits = [j for j in queue.values() if ours(j, str(j.get("comment") or ""))]
        if not hits:
            hits = [
                j
                for j in self._sacct(
                    ["-a", "-X", "-S", f"now-{self.lookback_days}days"]
                    + ([f"--account={account}"] if account else [])
                    # sacct reads --name as a comma-separated list
                    + ([f"--name={name}"] if name and "," not in name else [])
                )
                if ours(j, sacct_comment(j))
            ]
        if not hits:
            return None
        return str(max(int(j["job_id"]) for j in hits))

    # -- poll -------------------------------------------------------------------------------

    def _squeue(self) -> dict[str, dict[str, Any]]:
        # 22.05's `squeue --json` ignores -j/-u: read the whole queue once per poll.
        data = self.commands.json(["squeue", "--json", *self._cluster_args()])
        return {str(j["job_id"]): j for j in data.get("jobs") or [] if "job_id" in j}

    def _sacct(self, args: Sequence[str]) -> list[dict[str, Any]]:
        data = self.commands.json(["sacct", "--json", *self._cluster_args(), *args])
        return [j for j in data.get("jobs") or [] if isinstance(j, dict)]

    def poll(self, external_ids: Sequence[str]) -> dict[str, Status]:
        wanted = [str(i) for i in external_ids]
        if not wanted:
            return {}
        queue = self._squeue()
        result: dict[str, Status] = {}
        later: list[str] = []
        for jid in wanted:
            job = queue.get(jid)
            if job is None or state_of(job.get("job_state")).finished:
                later.append(jid)  # sacct knows the exit code and the final accounting
            else:
                result[jid] = status_from_squeue(job)
        numeric = [jid for jid in later if jid.isdigit()]
        if numeric:
            since = f"now-{max(self.lookback_days, 31)}days"
            for job in self._sacct(["-j", ",".join(numeric), "-S", since]):
                jid = str(job.get("job_id"))
                if jid in later and not job.get("het_job_offset"):
                    result[jid] = status_from_sacct(job)
        self._fix_exit_codes(result, queue, later)
        for jid in later:
            if jid in result:
                continue
            if jid in queue:  # finished, not yet in the accounting database
                result[jid] = status_from_squeue(queue[jid])
            else:
                result[jid] = Status(
                    external_id=jid,
                    state=State.LOST,
                    reason="Slurm has no trace of this job (neither squeue nor sacct)",
                )
        return result

    def _fix_exit_codes(
        self, result: dict[str, Status], queue: Mapping[str, Mapping[str, Any]], ids: list[str]
    ) -> None:
        """22.05's ``sacct --json`` reports return code 0 for failed jobs: take the exit code
        from the queue while it holds the job, else from sacct's text output."""
        suspect = [
            jid
            for jid in ids
            if jid in result and result[jid].state is State.FAILED and not result[jid].exit_code
        ]
        codes: dict[str, int] = {}
        for jid in suspect:
            if jid in queue:
                code = exit_code_from_squeue(queue[jid].get("exit_code"))
                if code is not None:
                    codes[jid] = code
        rest = [jid for jid in suspect if jid not in codes]
        if rest:
            done = self.commands.run(
                ["sacct", *self._cluster_args(), "-n", "-P", "-X", "-o", "JobID,ExitCode",
                 "-j", ",".join(rest), "-S", f"now-{max(self.lookback_days, 31)}days"]
            )  # fmt: skip
            for line in done.stdout.splitlines():
                jid, _, text = line.partition("|")
                if text.split(":")[0].isdigit():
                    codes[jid] = int(text.split(":")[0])
        for jid, code in codes.items():
            old = result[jid]
            reason = f"exit {code}" if old.reason in ("", "exit 0") else old.reason
            result[jid] = replace(old, exit_code=code, reason=reason)

    # -- accounting -------------------------------------------------------------------------

    def finished_jobs(self, since: dt.datetime) -> list[FinishedJob]:
        """Every job of every user that ended since ``since``, from ``sacct`` (which needs
        ``-S``: without it, only today's jobs)."""
        start = since.astimezone().strftime("%Y-%m-%dT%H:%M:%S")  # sacct reads local time
        states = "CD,F,CA,TO,NF,OOM,PR,BF,DL"
        jobs = self._sacct(["-a", "-X", "-S", start, "-E", "now", "-s", states])
        result = []
        for job in jobs:
            if job.get("het_job_offset"):
                continue
            status = status_from_sacct(job)
            if not status.state.finished or status.ended_at is None:
                continue
            times = dict_of(job.get("time"))
            elapsed = times.get("elapsed")
            result.append(
                FinishedJob(
                    external_id=status.external_id,
                    cluster=str(job.get("cluster") or ""),
                    account=str(job.get("account") or ""),
                    user=str(job.get("user") or ""),
                    ailab_job_id=self.ailab_job_id(sacct_comment(job)),
                    state=status.state,
                    gpus=status.gpus or 0,
                    elapsed_s=elapsed if isinstance(elapsed, int) else 0,
                    started_at=status.started_at or status.ended_at,
                    ended_at=status.ended_at,
                )
            )
        return result

    # -- cancel -----------------------------------------------------------------------------

    def cancel(self, external_id: str) -> None:
        if not external_id.isdigit():
            return  # not a Slurm job id: Slurm has no such job to cancel
        done = self.commands.run(["scancel", *self._cluster_args(), external_id], ok_codes=(0, 1))
        if done.returncode != 0:
            text = done.stderr.lower()
            # Already over, or long purged: cancel is idempotent.
            if "already completing or completed" in text or "invalid job id" in text:
                return
            raise BackendError(
                f"`scancel {external_id}` failed with exit status {done.returncode}: "
                f"{done.stderr.strip() or 'no output'}"
            )

    def preempt(self, external_id: str) -> None:
        raise BackendError("the Slurm backend does not preempt: Slurm's own policy decides")


@dataclass(frozen=True, slots=True)
class FinishedJob:
    """One finished Slurm job as accounting sees it (``sacct``)."""

    external_id: str
    cluster: str
    account: str
    user: str
    ailab_job_id: str  # from --comment=ailab:<id>; empty for jobs submitted outside ailab
    state: State
    gpus: int  # AllocTRES gres/gpu
    elapsed_s: int
    started_at: dt.datetime
    ended_at: dt.datetime

    @property
    def gpu_seconds(self) -> int:
        return self.gpus * max(0, self.elapsed_s)


def job_name(spec: JobSpec) -> str:
    """The job's name as Slurm shows it, control characters replaced (``clean_name``)."""
    return clean_name(spec.name) or f"ailab-{spec.job_id}"


def _slurm_name(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except ValueError as exc:
        raise BackendError(f"sbatch: {exc}") from None
