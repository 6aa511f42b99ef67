from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from ailab.common.models import TimeStampedModel

NAME_MAX = 200
TEXT_MAX = 5000


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: logs in with an email address. ``is_staff`` marks lab staff."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=NAME_MAX, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Lab staff: manage the lab and use the admin."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class OrganisationKind(models.TextChoices):
    STARTUP = "startup", "Startup"
    UNIVERSITY = "university", "University"
    COMPANY = "company", "Company"
    INDUSTRY_ASSOCIATION = "industry_association", "Industry association"
    INVESTOR = "investor", "Investor"
    GOVERNMENT = "government", "Government"
    LAB = "lab", "Lab"


class Organisation(TimeStampedModel):
    name = models.CharField(max_length=NAME_MAX, unique=True)
    slug = models.SlugField(max_length=NAME_MAX, unique=True)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    website = models.URLField(blank=True)
    description = models.TextField(blank=True, max_length=TEXT_MAX)
    founded = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    LAB_STAFF = "lab_staff", "Lab staff"
    FOUNDER = "founder", "Founder"
    MEMBER = "member", "Member"
    REVIEWER = "reviewer", "Reviewer"
    MENTOR = "mentor", "Mentor"
    RESEARCHER = "researcher", "Researcher"
    STUDENT = "student", "Student"
    INDUSTRY_PARTNER = "industry_partner", "Industry partner"
    INVESTOR = "investor", "Investor"


class Membership(TimeStampedModel):
    """A user's place in an organisation: one membership per user and organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        ordering = ["organisation__name", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation"], name="membership_one_per_user_and_organisation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organisation}"


class APIToken(TimeStampedModel):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, db_index=True, help_text="First characters, to tell tokens apart."
    )
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


POSIX_USERNAME_RE = r"^[a-z_][a-z0-9_-]{0,31}$"


class PosixAccount(TimeStampedModel):
    """The Unix account a user's jobs run as: assigned by lab staff (or a configured
    provisioner), never derived from the email. One per user; usernames and uids unique."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="posix")
    username = models.CharField(
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(
                POSIX_USERNAME_RE,
                "a Unix username: lower-case letters, digits, '_' or '-', at most 32, "
                "starting with a letter or '_'",
            )
        ],
    )
    uid = models.PositiveIntegerField(unique=True)
    gid = models.PositiveIntegerField(help_text="Primary group id (usually the same as uid).")
    assigned_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(condition=models.Q(uid__gte=1000), name="posix_uid_not_system"),
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.uid})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"


class Invitation(TimeStampedModel):
    """An offer of a role in an organisation, sent to an email address. Only the SHA-256 of
    the link's token is stored; the membership exists once the invitee accepts."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    status = models.CharField(
        max_length=16, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_email_and_organisation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()} at {self.organisation}"
