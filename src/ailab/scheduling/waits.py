"""Shared :class:`Wait` decisions: one object per (job, code) without a detail.

A pass over a long queue gives most jobs the same wait as the pass before; ``Wait`` is frozen,
so handing out the same object again is indistinguishable from building an equal one, and it
saves building 100,000 objects a pass. Bounded: the table is emptied when it grows too large.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ailab.scheduling.model import Job, Wait, WaitReason

_MEMO: dict[WaitReason, dict[str, Wait]] = {code: {} for code in WaitReason}
_MAX = 1_000_000


def wait_of(job_id: str, code: WaitReason) -> Wait:
    """``Wait(job_id, code)``, the same object for equal arguments while it is remembered."""
    known = _MEMO[code]
    w = known.get(job_id)
    if w is None:
        if len(known) >= _MAX:
            known.clear()
        w = known[job_id] = Wait(job_id, code)
    return w


def table(code: WaitReason) -> dict[str, Wait]:
    """The remembered waits of ``code`` (for loops that inline :func:`wait_of`)."""
    known = _MEMO[code]
    if len(known) >= _MAX:
        known.clear()
    return known


def decisions_of(jobs: Sequence[Job], reasons: Iterable[tuple[int, WaitReason, str]]) -> list[Wait]:
    """The ``Wait`` of each ``(job index, code, detail)``, in order."""
    out: list[Wait] = []
    add = out.append
    memo = _MEMO
    for j, code, detail in reasons:
        jid = jobs[j].id
        if detail:
            add(Wait(jid, code, detail))
            continue
        known = memo[code]
        w = known.get(jid)
        if w is None:
            if len(known) >= _MAX:
                known.clear()
            w = known[jid] = Wait(jid, code)
        add(w)
    return out


def forget() -> None:
    """Drop the remembered waits."""
    for known in _MEMO.values():
        known.clear()
