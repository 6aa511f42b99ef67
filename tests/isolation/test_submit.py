"""What submit refuses: control characters in what reaches a script or a log, and
requests no node could hold."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ailab.accounts.services import token_create
from ailab.compute.models import Job, Node
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db


def post(lab: Lab, **change: Any) -> Any:
    body = {"allocation": "Team Vision", "command": ["true"], "gpus": 1, "time_limit_s": 60}
    body.update(change)
    raw = token_create(actor=lab.member, user=lab.member, name="t").raw
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    return client.post("/api/v1/jobs", body, content_type="application/json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "train\n#SBATCH --gres=gpu:8"}, "name"),
        ({"name": "evil\u202etxt.exe"}, "name"),
        ({"name": "zero\u200bwidth"}, "name"),
        ({"workdir": "/tmp/x\n#SBATCH --qos=high"}, "workdir"),
        ({"env": {"A": "line\nbreak"}}, "env.A"),
        ({"env": {"A": "nul\x00"}}, "env.A"),
    ],
)
def test_control_and_format_characters_are_refused(
    lab: Lab, change: dict[str, Any], field: str
) -> None:
    """A newline (a new #SBATCH line), an RTL override or a zero-width character in the
    name, workdir or environment: 422 naming the field; no job."""
    response = post(lab, **change)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    assert not Job.objects.exists()


def test_requests_larger_than_any_node_are_refused(lab: Lab) -> None:
    """More CPUs or memory than any node with enough GPUs: 422 naming cpus / memory_mb."""
    Node.objects.filter(cluster=lab.cluster).update(cpus=16, memory_mb=64_000)
    too_many = post(lab, cpus=17)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "cpus"
    too_much = post(lab, memory_mb=64_001)
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "memory_mb"
    assert post(lab, cpus=16, memory_mb=64_000).status_code in (200, 201)
    assert Job.objects.count() == 1
