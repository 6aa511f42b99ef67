"""Query counts on the hot pages and on submission: fixed, whatever the number of jobs."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ailab.compute.services import job_submit
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db

PAGES = ("/jobs/", "/allocations/", "/cluster/")
MAX_QUERIES = {"/jobs/": 8, "/allocations/": 8, "/cluster/": 12}


def _jobs(lab: Lab, n: int) -> None:
    for _ in range(n):
        job_submit(
            actor=lab.member, allocation=lab.allocation, command=["true"], gpus=1, time_limit_s=60
        )


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", PAGES)
def test_a_list_page_costs_the_same_queries_for_3_or_30_jobs(lab: Lab, url: str) -> None:
    """The page's query count does not grow with the jobs on it (no query per row), and
    stays under its ceiling."""
    client = Client()
    client.force_login(lab.member)
    _jobs(lab, 3)
    few = _count(client, url)
    _jobs(lab, 27)
    many = _count(client, url)
    assert many == few, f"{url}: {few} queries with 3 jobs, {many} with 30"
    assert many <= MAX_QUERIES[url]


def test_submitting_a_job_takes_a_fixed_number_of_queries(
    lab: Lab, django_assert_max_num_queries: Any
) -> None:
    """``job_submit`` (access, allocation checks, budget headroom, insert) stays within 15
    queries however many jobs the allocation already has."""
    _jobs(lab, 20)
    with django_assert_max_num_queries(15):
        _jobs(lab, 1)
