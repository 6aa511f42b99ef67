"""/api/v1: me, organisations, memberships, tokens. Endpoints only translate (DESIGN.md rule 1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import HttpUrl, StringConstraints

from ailab.accounts import invitations, selectors, services
from ailab.accounts.models import (
    NAME_MAX,
    TEXT_MAX,
    InvitationStatus,
    Membership,
    OrganisationKind,
    Role,
    User,
)
from ailab.accounts.roles import is_lab_staff

router = Router(tags=["accounts"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
# An id the database can hold: larger ones are a 422 naming the parameter, not a 500.
ObjectId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class MembershipOut(Schema):
    id: int
    user_id: int
    user_email: str | None = Field(
        None, description="Shown to lab staff and to the member; null for anyone else."
    )
    user_name: str
    organisation_id: int
    organisation_name: str
    role: Role

    @staticmethod
    def resolve_user_email(obj: Membership, context: Any) -> str | None:
        viewer = getattr(context.get("request") if context else None, "user", None)
        if viewer is not None and (viewer.pk == obj.user_id or is_lab_staff(viewer)):
            return obj.user.email
        return None

    @staticmethod
    def resolve_user_name(obj: Membership) -> str:
        return obj.user.full_name or f"user {obj.user_id}"

    @staticmethod
    def resolve_organisation_name(obj: Membership) -> str:
        return obj.organisation.name


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    is_lab_staff: bool
    memberships: list[MembershipOut]


class MeIn(Schema):
    full_name: Annotated[str, StringConstraints(max_length=NAME_MAX)]


class OrganisationOut(Schema):
    id: int
    name: str
    slug: str
    kind: OrganisationKind
    website: str
    description: str
    founded: dt.date | None


class OrganisationIn(Schema):
    name: Name
    kind: OrganisationKind
    website: HttpUrl | None = None
    description: Text = ""
    founded: dt.date | None = None


class OrganisationPatch(Schema):
    name: Name | None = None
    kind: OrganisationKind | None = None
    website: HttpUrl | None = None
    description: Text | None = None
    founded: dt.date | None = None


class InvitationIn(Schema):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    role: Role


class InvitationOut(Schema):
    id: int
    organisation_id: int
    email: str
    role: Role
    status: InvitationStatus
    expires_at: dt.datetime


class InvitationCreated(InvitationOut):
    link: str = Field(..., description="The invitation's link (also mailed). Shown once.")


class InvitationAnswer(Schema):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MembershipIn(Schema):
    user_id: int
    role: Role


class MembershipPatch(Schema):
    role: Role


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    user_id: int
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(..., description="The token itself. Shown once; store it now.")


class TokenIn(Schema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    user_id: int | None = None


def _me(user: User) -> dict[str, object]:
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "is_lab_staff": is_lab_staff(user),
        "memberships": list(selectors.membership_list_of(user).select_related("user")),
    }


@router.get("/me", response=MeOut, summary="Who am I")
def me(request: HttpRequest) -> object:
    return _me(_user(request))


@router.patch("/me", response=MeOut, summary="Change my profile")
def me_update(request: HttpRequest, payload: MeIn) -> object:
    user = _user(request)
    services.user_update(actor=user, user=user, full_name=payload.full_name)
    return _me(user)


@router.get("/organisations", response=list[OrganisationOut])
def organisation_list(request: HttpRequest, kind: OrganisationKind | None = None) -> object:
    return selectors.organisation_list(kind=kind)


@router.post("/organisations", response={201: OrganisationOut})
def organisation_create(request: HttpRequest, payload: OrganisationIn) -> object:
    org = services.organisation_create(
        actor=_user(request),
        name=payload.name,
        kind=payload.kind,
        website=str(payload.website) if payload.website else "",
        description=payload.description,
        founded=payload.founded,
    )
    return Status(201, org)


@router.get("/organisations/{organisation_id}", response=OrganisationOut)
def organisation_detail(request: HttpRequest, organisation_id: int) -> object:
    return selectors.access_organisation(_user(request), organisation_id)


@router.patch("/organisations/{organisation_id}", response=OrganisationOut)
def organisation_update(
    request: HttpRequest, organisation_id: int, payload: OrganisationPatch
) -> object:
    org = selectors.access_organisation(_user(request), organisation_id, selectors.CHANGE)
    data = payload.dict(exclude_unset=True)
    if "website" in data:
        data["website"] = str(data["website"]) if data["website"] else ""
    return services.organisation_update(actor=_user(request), organisation=org, **data)


@router.delete("/organisations/{organisation_id}", response={204: None})
def organisation_delete(request: HttpRequest, organisation_id: int) -> object:
    org = selectors.access_organisation(_user(request), organisation_id)
    services.organisation_delete(actor=_user(request), organisation=org)
    return Status(204, None)


@router.get("/memberships", response=list[MembershipOut])
def membership_list(request: HttpRequest, organisation_id: ObjectId | None = None) -> object:
    return selectors.membership_list_visible_to(_user(request), organisation_id=organisation_id)


@router.post(
    "/organisations/{organisation_id}/memberships",
    response={201: MembershipOut},
    summary="Enrol a user directly (lab staff only; everyone else invites)",
)
def membership_create(request: HttpRequest, organisation_id: int, payload: MembershipIn) -> object:
    actor = _user(request)
    if not is_lab_staff(actor):
        from ailab.common.errors import PermissionDenied

        raise PermissionDenied(
            "members join by invitation: POST /organisations/{id}/invitations", field="user_id"
        )
    org = selectors.access_organisation(actor, organisation_id)
    member = selectors.user_by_id(payload.user_id)
    membership = services.membership_create(
        actor=actor, organisation=org, user=member, role=payload.role
    )
    return Status(201, membership)


@router.patch("/memberships/{membership_id}", response=MembershipOut)
def membership_update(request: HttpRequest, membership_id: int, payload: MembershipPatch) -> object:
    actor = _user(request)
    membership = selectors.access_membership(actor, membership_id, selectors.CHANGE)
    return services.membership_update(actor=actor, membership=membership, role=payload.role)


@router.delete("/memberships/{membership_id}", response={204: None})
def membership_delete(request: HttpRequest, membership_id: int) -> object:
    actor = _user(request)
    membership = selectors.access_membership(actor, membership_id, selectors.CHANGE)
    services.membership_delete(actor=actor, membership=membership)
    return Status(204, None)


@router.get("/tokens", response=list[TokenOut])
def token_list(request: HttpRequest, all: bool = False) -> object:
    return selectors.token_list_visible_to(_user(request), all_users=all)


@router.post("/tokens", response={201: TokenCreated})
def token_create(request: HttpRequest, payload: TokenIn) -> object:
    actor = _user(request)
    owner = selectors.access_user(actor, payload.user_id) if payload.user_id else None
    issued = services.token_create(actor=actor, user=owner, name=payload.name)
    out = TokenOut.from_orm(issued.token).dict()
    return Status(201, TokenCreated(**out, token=issued.raw))


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke a token (idempotent)")
def token_revoke(request: HttpRequest, token_id: int) -> object:
    actor = _user(request)
    return services.token_revoke(actor=actor, token=selectors.access_token(actor, token_id))


@router.post(
    "/organisations/{organisation_id}/invitations",
    response={201: InvitationCreated},
    summary="Invite someone by email (staff: any role; founders: founder or member)",
)
def invitation_create(request: HttpRequest, organisation_id: int, payload: InvitationIn) -> object:
    actor = _user(request)
    org = selectors.access_organisation(actor, organisation_id)
    issued = invitations.invitation_create(
        actor=actor,
        organisation=org,
        email=payload.email,
        role=payload.role,
        base_url=request.build_absolute_uri("/"),
    )
    out = InvitationOut.from_orm(issued.invitation).dict()
    return Status(201, InvitationCreated(**out, link=request.build_absolute_uri(issued.path)))


@router.get("/invitations", response=list[InvitationOut])
def invitation_list(request: HttpRequest, organisation_id: ObjectId | None = None) -> object:
    return invitations.invitation_list_visible_to(_user(request), organisation_id=organisation_id)


@router.post(
    "/invitations/accept", response=MembershipOut, summary="Accept an invitation sent to me"
)
def invitation_accept(request: HttpRequest, payload: InvitationAnswer) -> object:
    return invitations.invitation_accept(user=_user(request), raw=payload.token)


@router.post(
    "/invitations/decline", response=InvitationOut, summary="Decline an invitation sent to me"
)
def invitation_decline(request: HttpRequest, payload: InvitationAnswer) -> object:
    return invitations.invitation_decline(user=_user(request), raw=payload.token)


@router.delete("/invitations/{invitation_id}", response=InvitationOut, summary="Revoke")
def invitation_revoke(request: HttpRequest, invitation_id: int) -> object:
    actor = _user(request)
    invitation = invitations.access_invitation(actor, invitation_id)
    return invitations.invitation_revoke(actor=actor, invitation=invitation)
