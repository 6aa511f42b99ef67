"""Typed wait reasons (``WaitReason`` + detail) and the ``MULTI_NODE`` capability."""

from __future__ import annotations

import pytest

from ailab.scheduling import (
    Capability,
    ClusterState,
    Job,
    Mode,
    Node,
    Start,
    Tenant,
    Wait,
    WaitReason,
    pending_codes,
    plan,
)
from ailab.scheduling.policies import POLICIES

NODES = (Node("n0", 8), Node("n1", 8))
NO_MULTI = frozenset(Capability) - {Capability.MULTI_NODE}


def test_every_code_has_words_and_a_stable_value() -> None:
    """Each code renders to words its owner reads, starting with the code's own name; the
    values are the snake_case names that callers store."""
    for code in WaitReason:
        assert code.words
        assert code.value == code.name.lower()
        assert str(Wait("1", code)) == Wait("1", code).text
    assert Wait("1", WaitReason.QUOTA, "x").text.endswith("(x)")


def test_legacy_reason_phrases_are_kept() -> None:
    """``Wait.reason`` gives the phrases callers read before the codes existed."""
    assert Wait("1", WaitReason.PRIORITY).reason == "priority"
    assert Wait("1", WaitReason.RESERVED, "42").reason == "reserved for job 42"
    assert Wait("1", WaitReason.NEVER_FITS, "detail").reason == "never fits"
    assert Wait("1", WaitReason.UNKNOWN_TENANT).reason == "unknown tenant"


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_without_multi_node_a_job_larger_than_a_node_waits_with_its_code(policy: str) -> None:
    """Backend without MULTI_NODE: a 16-GPU job on two free 8-GPU nodes is never started; it
    waits with NEEDS_MULTI_NODE, and the 8-GPU job behind it starts (it does not block)."""
    state = ClusterState(
        NODES,
        (Tenant("a", 16),),
        pending=(Job("big", "a", 16, 1.0), Job("one", "a", 8, 2.0)),
        mode=Mode.SHARED,
        capabilities=NO_MULTI,
    )
    d = plan(state, policy, 10.0)
    assert [x.job_id for x in d if isinstance(x, Start)] == ["one"]
    assert pending_codes(d) == {"big": WaitReason.NEEDS_MULTI_NODE}
    alone = ClusterState(NODES, (Tenant("a", 16),), pending=state.pending[:1], mode=Mode.SHARED)
    assert [x.job_id for x in plan(alone, policy, 10.0) if isinstance(x, Start)] == ["big"]


def test_codes_of_the_ailab_policy() -> None:
    """ailab: a tenant at its guarantee on a full cluster waits for QUOTA; a job ahead in its
    own queue waits for RESOURCES, the next for PRIORITY."""
    state = ClusterState(
        (Node("na", 8, "a"),),
        (Tenant("a", 4), Tenant("b", 4)),
        pending=(
            Job("a1", "a", 8, 1.0),
            Job("a2", "a", 8, 2.0),
            Job("b1", "b", 8, 3.0),
        ),
        mode=Mode.SHARED,
    )
    d = plan(state, "ailab", 10.0)
    started = [x.job_id for x in d if isinstance(x, Start)]
    assert len(started) == 1
    codes = pending_codes(d)
    assert set(codes.values()) <= {WaitReason.QUOTA, WaitReason.RESOURCES, WaitReason.PRIORITY}
    assert all(isinstance(c, WaitReason) for c in codes.values())
