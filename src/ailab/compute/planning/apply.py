"""Stage 3 of a planning step: apply the planner's decisions, guarded.

Nothing is applied unless this loop still holds the cluster's lease and the cluster's
``version`` is the snapshot's (a compare-and-set that bumps it): if anything else applied
decisions or finished a job in between, the next pass plans again. Each started job's GPUs
are rows of ``GpuAssignment``, unique on (node, index), so even a bug elsewhere cannot
double-book a GPU: the database refuses and the whole apply rolls back. Reasons (and
estimates) are written only for the jobs whose shown values change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F

from ailab.compute.models import Cluster, GpuAssignment, Job, JobStatus, SchedulerLease
from ailab.compute.planning import reasons
from ailab.compute.planning.reasons import Reason
from ailab.compute.planning.snapshot import Shown, Snapshot
from ailab.compute.transitions import job_transition
from ailab.scheduling import Decision, Placement, Preempt, Slot, Start, Wait

log = logging.getLogger(__name__)

UPDATE_CHUNK = 2000  # ids per UPDATE ... WHERE id IN (...), well under SQLite's variable limit


@dataclass
class Applied:
    started: list[int] = field(default_factory=list)
    preempted: list[int] = field(default_factory=list)
    conflict: bool = False
    assignments: list[GpuAssignment] = field(default_factory=list)
    shown: dict[int, Shown] = field(default_factory=dict)  # pending job id -> written now
    version: int | None = None  # the cluster's version after this apply bumped it


def apply(snap: Snapshot, decisions: list[Decision], *, owner: str, now: dt.datetime) -> Applied:
    """Apply decisions if the snapshot is still current and our lease holds; else nothing."""
    out = Applied()
    try:
        with transaction.atomic():
            if not SchedulerLease.objects.filter(
                cluster_id=snap.cluster_id, owner=owner, expires_at__gt=now
            ).exists():
                out.conflict = True
                return out
            bumped = Cluster.objects.filter(pk=snap.cluster_id, version=snap.version).update(
                version=F("version") + 1
            )
            if bumped != 1:
                out.conflict = True
                return out
            _apply_decisions(snap, decisions, now, out)
            out.version = snap.version + 1
    except IntegrityError:
        log.warning("cluster %s: a GPU was already assigned; nothing applied", snap.cluster_id)
        return Applied(conflict=True)
    return out


def _apply_decisions(
    snap: Snapshot, decisions: list[Decision], now: dt.datetime, out: Applied
) -> None:
    waits: dict[int, Reason] = {}
    starts: list[tuple[int, Start]] = []
    for d in decisions:
        jid = int(d.job_id)
        if isinstance(d, Preempt):
            r = reasons.preempting(d.reason)
            # only a new request counts: one already asked for is repeated by the loop's
            # tracking until the backend stops the job
            n = Job.objects.filter(
                pk=jid, status=JobStatus.RUNNING, preempt_requested=False
            ).update(preempt_requested=True, reason=r.text, reason_code=r.code)
            if n:
                out.preempted.append(jid)
        elif isinstance(d, Start):
            starts.append((jid, d))
        elif isinstance(d, Wait):
            waits[jid] = reasons.wait_reason(d, largest_node=snap.largest_node)
    waits.update(snap.held)
    starts.extend((jid, Start(str(jid), Placement(()))) for jid in snap.cpu_only)
    _start_many(snap, starts, now, out, waits)
    if out.assignments:
        GpuAssignment.objects.bulk_create(out.assignments)
    _write_shown(snap, waits, out)


def _write_shown(snap: Snapshot, waits: dict[int, Reason], out: Applied) -> None:
    """One UPDATE per distinct (reason, estimate) among the jobs whose shown values change."""
    groups: dict[Shown, list[int]] = defaultdict(list)
    for jid, reason in waits.items():
        shown = Shown(reason.code, reason.text, snap.estimates.get(jid))
        if snap.shown.get(jid) != shown:
            groups[shown].append(jid)
    for shown, ids in groups.items():
        for k in range(0, len(ids), UPDATE_CHUNK):
            Job.objects.filter(pk__in=ids[k : k + UPDATE_CHUNK], status=JobStatus.PENDING).update(
                reason=shown.text, reason_code=shown.code, estimate_s=shown.estimate_s
            )
        out.shown.update((i, shown) for i in ids)


def _start_many(
    snap: Snapshot,
    starts: list[tuple[int, Start]],
    now: dt.datetime,
    out: Applied,
    waits: dict[int, Reason],
) -> None:
    """Mark the started jobs running: rows locked and checked (still pending, same run, not
    being cancelled), then one guarded transition each; GPU rows are added by the caller."""
    if not starts:
        return
    ids = [jid for jid, _ in starts]
    current = {
        pk: (status, run, cancel)
        for k in range(0, len(ids), UPDATE_CHUNK)
        for pk, status, run, cancel in Job.objects.select_for_update()
        .filter(pk__in=ids[k : k + UPDATE_CHUNK])
        .values_list("pk", "status", "run", "cancel_requested")
    }
    for jid, d in starts:
        row = current.get(jid)
        if row is None or row[0] != JobStatus.PENDING or row[2] or row[1] != snap.runs.get(jid):
            continue
        slots = d.placement.slots
        if not slots and snap.nodes:  # a job with no GPUs: any node will do
            slots = (Slot(next(iter(snap.nodes)), ()),)
        if len(slots) != 1:
            waits[jid] = reasons.MULTI_NODE
            continue
        node = snap.nodes[slots[0].node_id]
        indices = list(slots[0].gpu_indices)
        if any((node.name, i) in snap.busy for i in indices):
            # The plan frees these GPUs by preempting their job in this same pass: start
            # once that job has stopped (a later pass), never on GPUs still in use.
            waits[jid] = reasons.RELEASING
            continue
        job = Job(pk=jid, status=JobStatus.PENDING)
        won = job_transition(
            job,
            JobStatus.RUNNING,
            expect=JobStatus.PENDING,
            run=row[1] + 1,
            node_id=node.pk,
            gpu_indices=indices,
            started_at=now,
            ended_at=None,
            exit_code=None,
            external_id="",
            reason=reasons.STARTING.text,
            reason_code=reasons.STARTING.code,
            estimate_s=snap.estimates.get(jid),
            updated_at=now,
        )
        if won:
            out.assignments.extend(
                GpuAssignment(job_id=jid, node_id=node.pk, gpu_index=i) for i in indices
            )
            out.started.append(jid)
