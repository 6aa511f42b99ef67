"""The run-time estimator: predictions, and its state kept across restarts as JSON."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ailab.scheduling.estimate import EstimatorStateError, RuntimeEstimator
from ailab.scheduling.model import Job


def _jobs(rng: random.Random, n: int) -> list[tuple[Job, float]]:
    out = []
    for i in range(n):
        t, u, name = f"t{rng.randrange(3)}", f"u{rng.randrange(4)}", f"n{rng.randrange(5)}"
        g = rng.choice((1, 2, 8))
        out.append((Job(str(i), t, g, float(i), user=u, name=name), rng.uniform(1, 9000)))
    return out


def test_most_specific_group_with_enough_runs_wins() -> None:
    """Three runs of (a, alice, train, 1 GPU) of 100 s predict 100 s for that group; a job of
    the same user and name on 2 GPUs falls back to (a, alice, train): still 100 s; an unknown
    tenant gets the median of everyone; an empty estimator its default."""
    est = RuntimeEstimator(default=42.0)
    probe = Job("p", "a", 1, 0.0, user="alice", name="train")
    assert est.predict(probe) == 42.0
    for k in range(3):
        est.observe(Job(str(k), "a", 1, 0.0, user="alice", name="train"), 100.0)
    est.observe(Job("x", "b", 1, 0.0, user="bob", name="eval"), 1000.0)
    assert est.predict(probe) == 100.0
    assert est.predict(Job("q", "a", 2, 0.0, user="alice", name="train")) == 100.0
    assert est.predict(Job("r", "zz", 4, 0.0)) == 100.0  # median of 100, 100, 100, 1000


def test_state_round_trips_through_json_and_predicts_the_same() -> None:
    """An estimator rebuilt from its JSON state predicts exactly as the original for every
    job, and still does after both observe the same further runs (the window is kept)."""
    rng = random.Random(7)
    original = RuntimeEstimator(window=8, min_samples=2, default=600.0)
    for job, run in _jobs(rng, 400):
        original.observe(job, run)
    text = json.dumps(original.to_state())
    restored = RuntimeEstimator.from_state(json.loads(text))
    assert (restored.window, restored.min_samples, restored.default) == (8, 2, 600.0)
    probes = [job for job, _ in _jobs(random.Random(8), 200)]
    assert [restored.predict(j) for j in probes] == [original.predict(j) for j in probes]
    for job, run in _jobs(random.Random(9), 100):
        original.observe(job, run)
        restored.observe(job, run)
    assert [restored.predict(j) for j in probes] == [original.predict(j) for j in probes]
    assert json.dumps(restored.to_state()) == json.dumps(original.to_state())


def test_state_is_keyed_by_tenant_user_name_and_gpus() -> None:
    """The most specific group of a job is its [tenant, user, name, GPUs]; each group keeps at
    most ``window`` run times, latest last."""
    est = RuntimeEstimator(window=2)
    for run in (10.0, 20.0, 30.0):
        est.observe(Job("1", "a", 8, 0.0, user="alice", name="train"), run)
    state = est.to_state()
    first = state["groups"][0]
    assert first == {"key": ["a", "alice", "train", 8], "runs": [20.0, 30.0]}
    assert {tuple(g["key"]) for g in state["groups"]} == {
        ("a", "alice", "train", 8), ("a", "alice", "train"), ("a", "alice", 8), ("a", 8),
        ("a",), (),
    }  # fmt: skip


def test_state_does_not_depend_on_the_order_groups_were_seen() -> None:
    """Two estimators that saw the same runs per group, in a different interleaving of
    groups, write the same state (canonical order), so a saved state diffs cleanly."""
    a, b = RuntimeEstimator(), RuntimeEstimator()
    x = Job("1", "a", 1, 0.0, user="u", name="x")
    y = Job("2", "b", 2, 0.0, user="v", name="y")
    for job in (x, y):
        a.observe(job, 5.0)
    for job in (y, x):
        b.observe(job, 5.0)
    assert a.to_state()["groups"][:2] == b.to_state()["groups"][:2]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.update(version=99), "version"),
        (lambda s: s.update(window=0), "window"),
        (lambda s: s.update(default="soon"), "default"),
        (lambda s: s.update(groups={}), "groups"),
        (lambda s: s["groups"][0].update(key=["a", 1, "x", 8]), "groups[0].key"),
        (lambda s: s["groups"][0].update(runs=[]), "groups[0].runs"),
        (lambda s: s["groups"][0].update(runs=[1.0, -3.0]), "groups[0].runs[1]"),
        (lambda s: s["groups"][0].update(runs=[float("nan")]), "groups[0].runs[0]"),
        (lambda s: s["groups"].append(dict(s["groups"][0])), "groups[6].key"),
    ],
)
def test_bad_state_is_refused_naming_the_field(mutate: Any, field: str) -> None:
    """Saved state that is malformed raises EstimatorStateError whose field names where."""
    est = RuntimeEstimator()
    est.observe(Job("1", "a", 8, 0.0, user="alice", name="train"), 10.0)
    state = est.to_state()
    mutate(state)
    with pytest.raises(EstimatorStateError) as err:
        RuntimeEstimator.from_state(state)
    assert err.value.field == field
    assert str(err.value).startswith(field)
