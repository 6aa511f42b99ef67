"""/api/v1 POSIX identities: the Unix account each user's jobs run as (staff assign it)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from ailab.accounts import posix, selectors
from ailab.accounts.models import PosixAccount, User
from ailab.accounts.roles import is_lab_staff
from ailab.common.errors import NotFound

router = Router(tags=["accounts"])


class PosixIn(Schema):
    username: str
    uid: int | None = None
    gid: int | None = None


class PosixOut(Schema):
    user_id: int
    username: str
    uid: int
    gid: int


def _viewer(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _out(account: PosixAccount) -> dict[str, object]:
    return {
        "user_id": account.user_id,
        "username": account.username,
        "uid": account.uid,
        "gid": account.gid,
    }


def _subject(viewer: User, user_id: int) -> User:
    """Yourself, or anyone for lab staff; others' ids are answered like missing ones."""
    if viewer.pk == user_id:
        return viewer
    if not is_lab_staff(viewer):
        raise NotFound("no such user", field="user_id")
    return selectors.user_by_id(user_id)


@router.get("/users/{user_id}/posix", response=PosixOut, summary="A user's Unix account")
def posix_get(request: HttpRequest, user_id: int) -> object:
    subject = _subject(_viewer(request), user_id)
    account = posix.posix_account_of(subject)
    if account is None:
        raise NotFound("no Unix account assigned yet; lab staff assign one", field="user_id")
    return _out(account)


@router.put(
    "/users/{user_id}/posix",
    response={200: PosixOut},
    summary="Assign a user's Unix account (lab staff)",
)
def posix_put(request: HttpRequest, user_id: int, payload: PosixIn) -> object:
    viewer = _viewer(request)
    subject = _subject(viewer, user_id)
    account = posix.posix_account_set(
        actor=viewer, user=subject, username=payload.username, uid=payload.uid, gid=payload.gid
    )
    return _out(account)
