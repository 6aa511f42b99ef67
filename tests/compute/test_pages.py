"""The web pages: board, jobs (submit form, detail with log tail), allocations with a chart."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from ailab.compute.loop import Loop
from ailab.compute.models import Job, JobStatus
from ailab.compute.services import job_submit, usage_charge
from tests.compute.conftest import Lab, drive, status_of

pytestmark = pytest.mark.django_db(transaction=True)


def login(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_pages_need_a_login(lab: Lab) -> None:
    """Anonymous visitors are sent to the login page."""
    for name in ("cluster-board", "job-list", "allocation-list"):
        response = Client().get(reverse(name))
        assert response.status_code == 302
        assert "/login" in response["Location"]


def test_board_shows_gpus_running_jobs_and_the_queue(lab: Lab) -> None:
    """The board lists the node's GPUs with the job on each, and the queue with reasons;
    an HTMX request gets only the fragment."""
    loop = Loop()
    running = job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["sleep", "20"],
        gpus=2,
        time_limit_s=60,
        name="first",
    )
    waiting = job_submit(
        actor=lab.member,
        allocation=lab.allocation,
        command=["true"],
        gpus=3,
        time_limit_s=60,
        name="second",
    )
    drive(loop, lambda: status_of(running) == JobStatus.RUNNING)
    page = login(lab.member).get(reverse("cluster-board"))
    html = page.content.decode()
    assert "node-a" in html
    assert f"job {running.pk}" in html
    assert status_of(waiting) == JobStatus.PENDING
    assert waiting.reason
    assert waiting.reason in html
    fragment = login(lab.member).get(reverse("cluster-board"), headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content
    assert b"node-a" in fragment.content
    Job.objects.filter(pk=running.pk).update(cancel_requested=True)
    loop.backend(lab.cluster).cancel(Job.objects.get(pk=running.pk).external_id)
    drive(loop, lambda: status_of(running) == JobStatus.CANCELLED)


def test_submit_form_and_job_page_with_log(lab: Lab) -> None:
    """Submitting from the page queues the job; its page shows the output, polled by HTMX."""
    client = login(lab.member)
    response = client.post(
        reverse("job-submit"),
        {
            "allocation": lab.allocation.pk,
            "command": "echo 'hello from the page'",
            "gpus": "1",
            "cpus": "1",
            "time_limit": "5m",
            "name": "web",
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.pk])
    assert job.command == ["echo", "hello from the page"]
    assert job.time_limit_s == 300
    drive(Loop(), lambda: status_of(job) == JobStatus.COMPLETED)
    page = client.get(reverse("job-detail", args=[job.pk]))
    assert b"hello from the page" in page.content
    fragment = client.get(reverse("job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert b"hello from the page" in fragment.content
    assert b"<html" not in fragment.content


def test_bad_form_input_shows_the_field_and_creates_nothing(lab: Lab) -> None:
    """A bad time limit from the page: an error naming the field, no job."""
    client = login(lab.member)
    response = client.post(
        reverse("job-submit"),
        {"allocation": lab.allocation.pk, "command": "true", "gpus": "1", "time_limit": "soon"},
        headers={"Referer": "http://testserver" + reverse("job-list")},
        follow=True,
    )
    assert b"time_limit_s" in response.content
    assert Job.objects.count() == 0


def test_allocation_page_has_a_burn_down_chart(lab: Lab) -> None:
    """Budget, used and forecast drawn as inline SVG; hidden from others (404)."""
    now = dt.datetime.now(dt.UTC)
    usage_charge(
        allocation=lab.allocation, gpu_seconds=36_000, started_at=now, ended_at=now, key="x"
    )
    page = login(lab.founder).get(reverse("allocation-detail", args=[lab.allocation.pk]))
    html = page.content.decode()
    assert "<svg" in html
    assert "budget 100 GPU-h" in html
    assert "10.0 GPU-h" in html
    assert (
        login(lab.other).get(reverse("allocation-detail", args=[lab.allocation.pk])).status_code
        == 404
    )
    listing = login(lab.member).get(reverse("allocation-list"))
    assert b"Team Vision" in listing.content


def test_job_page_is_404_for_others(lab: Lab) -> None:
    """Someone outside the allocation cannot open the job's page or cancel it."""
    job = job_submit(
        actor=lab.member, allocation=lab.allocation, command=["true"], gpus=0, time_limit_s=60
    )
    other = login(lab.other)
    assert other.get(reverse("job-detail", args=[job.pk])).status_code == 404
    assert other.post(reverse("job-cancel", args=[job.pk])).status_code == 404
    assert status_of(job) == JobStatus.PENDING
    assert login(lab.member).post(reverse("job-cancel", args=[job.pk])).status_code == 302
    assert status_of(job) == JobStatus.CANCELLED


def test_home_page_shows_the_cluster_panel(lab: Lab) -> None:
    """The home page's compute panel: free GPUs and the visitor's allocations."""
    page = login(lab.member).get(reverse("home"))
    html = page.content.decode()
    assert "4</strong> of 4 GPUs free" in html
    assert "Team Vision" in html
    anonymous = Client().get(reverse("home")).content.decode()
    assert "GPUs free" in anonymous
    assert "Team Vision" not in anonymous
