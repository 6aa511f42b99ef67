"""POSIX identities: assigned by lab staff (service, API, CLI) or the provisioner, never
derived from an email; without one, nobody submits."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ailab.accounts.models import PosixAccount
from ailab.accounts.posix import posix_account_set
from ailab.accounts.services import token_create, user_create
from ailab.common.errors import Conflict, PermissionDenied, ValidationError
from ailab.compute.jobs import job_submit
from ailab.compute.models import Job
from tests.compute.conftest import Lab

pytestmark = pytest.mark.django_db


def api(user: Any) -> Client:
    raw = token_create(actor=user, user=user, name="t").raw
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def no_provisioner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AILAB_POSIX_PROVISIONER", raising=False)


def test_without_a_unix_account_nobody_submits(lab: Lab, no_provisioner: None) -> None:
    """No POSIX identity and no provisioner: 422 naming ``user``, saying whom to ask; no job."""
    response = api(lab.member).post(
        "/api/v1/jobs",
        {"allocation": "Team Vision", "command": ["true"], "gpus": 1, "time_limit_s": 60},
        content_type="application/json",
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "user"
    assert "ask lab staff" in error["reason"]
    assert not Job.objects.exists()


def test_two_founders_with_the_same_local_part_get_two_accounts(lab: Lab) -> None:
    """founder@a and founder@b are two people: the provisioner gives them two usernames
    and two uids, none taken from the email."""
    a = user_create(email="founder@a.test")
    b = user_create(email="founder@b.test")
    for person in (a, b):
        lab.allocation.members.add(person)
        job_submit(actor=person, allocation=lab.allocation, command=["true"], gpus=0,
                   time_limit_s=60)  # fmt: skip
    pa, pb = PosixAccount.objects.get(user=a), PosixAccount.objects.get(user=b)
    assert pa.username != pb.username
    assert pa.uid != pb.uid
    assert "founder" not in pa.username + pb.username


def test_staff_assign_accounts_and_clashes_are_refused(lab: Lab) -> None:
    """Staff assign a name; a name or uid taken by another user is 409; a bad name, a
    system account or root is 422 naming the field; non-staff may not assign."""
    account = posix_account_set(actor=lab.staff, user=lab.member, username="mem1", uid=41001)
    assert (account.username, account.uid, account.gid) == ("mem1", 41001, 41001)
    with pytest.raises(Conflict) as taken:
        posix_account_set(actor=lab.staff, user=lab.other, username="mem1")
    assert taken.value.field == "username"
    with pytest.raises(Conflict) as uid_taken:
        posix_account_set(actor=lab.staff, user=lab.other, username="oth1", uid=41001)
    assert uid_taken.value.field == "uid"
    for bad, field in [("Bad Name", "username"), ("root", "username"), ("bin", "username")]:
        with pytest.raises(ValidationError) as exc:
            posix_account_set(actor=lab.staff, user=lab.other, username=bad)
        assert exc.value.field == field, bad
    with pytest.raises(ValidationError) as low:
        posix_account_set(actor=lab.staff, user=lab.other, username="oth1", uid=10)
    assert low.value.field == "uid"
    with pytest.raises(PermissionDenied):
        posix_account_set(actor=lab.member, user=lab.member, username="mine")


def test_an_existing_machine_account_gives_its_uid(lab: Lab) -> None:
    """Assigning the name of an account this machine has takes its uid; another uid for
    it is refused (jobs would run as someone else)."""
    me = pwd.getpwuid(os.getuid())
    if me.pw_uid < 1000:
        me = pwd.getpwnam(_any_user_account())
    account = posix_account_set(actor=lab.staff, user=lab.member, username=me.pw_name)
    assert account.uid == me.pw_uid
    with pytest.raises(ValidationError) as exc:
        posix_account_set(actor=lab.staff, user=lab.other, username=me.pw_name, uid=me.pw_uid + 7)
    assert exc.value.field == "uid"


def _any_user_account() -> str:
    from tests import unix

    return unix.account("ailabt-known")[0]


def test_the_api_assigns_for_staff_and_hides_others_from_users(lab: Lab) -> None:
    """PUT /users/{id}/posix: staff 200; a member 403 for themself and 404 for another
    (ids are not a way to look people up); each may read their own."""
    staff, member = api(lab.staff), api(lab.member)
    url = f"/api/v1/users/{lab.member.pk}/posix"
    body = {"username": "apimem", "uid": 41010}
    assert member.put(url, body, content_type="application/json").status_code == 403
    response = staff.put(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"user_id": lab.member.pk, "username": "apimem", "uid": 41010,
                               "gid": 41010}  # fmt: skip
    assert member.get(url).json()["username"] == "apimem"
    assert member.get(f"/api/v1/users/{lab.staff.pk}/posix").status_code == 404
    bad = staff.put(url, {"username": "x\ny"}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "username"


@pytest.mark.django_db(transaction=True)
def test_the_cli_assigns_an_account(tmp_path: Path) -> None:
    """``ailab users posix set EMAIL USERNAME`` at the server's console, then ``show``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AILAB_TEST")}
    env.update(AILAB_DEBUG="1", AILAB_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               AILAB_DATA_DIR=str(tmp_path))  # fmt: skip

    def ailab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ailab.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    assert ailab("migrate", "-v", "0").returncode == 0
    code = "from ailab.accounts.services import user_create; user_create(email='r@lab.test')"
    made = subprocess.run([sys.executable, "-c", "import django, os; os.environ.setdefault("
                           "'DJANGO_SETTINGS_MODULE', 'ailab.config.settings'); django.setup();"
                           + code], env=env, capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = ailab("users", "posix", "set", "r@lab.test", "rsearcher", "--uid", "41020")
    assert done.returncode == 0, done.stderr
    assert "rsearcher (uid 41020" in done.stdout
    assert ailab("users", "posix", "show", "r@lab.test").stdout.split() == [
        "rsearcher", "41020", "41020"]  # fmt: skip
    bad = ailab("users", "posix", "set", "nobody@lab.test", "x1")
    assert bad.returncode != 0
    assert "EMAIL" in bad.stderr
