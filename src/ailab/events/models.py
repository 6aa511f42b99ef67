"""Events, series, rooms, sessions, registration forms (as data), registrations with their
waiting list, check-ins, certificates and reminders.

Capacity, moderation and reserved seats are fields of the event; a form is rows of
``FormField``; the registration status moves only through ``registration_transition``.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from ailab.accounts.models import NAME_MAX, TEXT_MAX, Organisation, User
from ailab.common.models import TimeStampedModel
from ailab.common.transitions import Transitions


def new_token() -> str:
    return secrets.token_urlsafe(18)


def new_code() -> str:
    # Read aloud or typed from paper: no 0/O, 1/I.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


class EventKind(models.TextChoices):
    WEBINAR = "webinar", "Webinar"
    SEMINAR = "seminar", "Seminar"
    WORKSHOP = "workshop", "Workshop"
    COURSE = "course", "Course"
    NETWORKING = "networking", "Networking"
    BRIEFING = "briefing", "Briefing"
    EXHIBITION = "exhibition", "Exhibition"


class Series(TimeStampedModel):
    """Events that belong together (a lecture series, a yearly workshop)."""

    title = models.CharField(max_length=NAME_MAX, unique=True)
    description = models.TextField(blank=True, max_length=TEXT_MAX)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.title


DEFAULT_CERTIFICATE = (
    "This certifies that $person attended $event ($dates), $hours hours of training."
)


class Event(TimeStampedModel):
    title = models.CharField(max_length=NAME_MAX)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    description = models.TextField(blank=True, max_length=TEXT_MAX)
    series = models.ForeignKey(
        Series, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    organisers = models.ManyToManyField(Organisation, related_name="organised_events")
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    published = models.BooleanField(default=False)
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no limit.")
    moderated = models.BooleanField(
        default=False, help_text="Registrations wait for an organiser's approval."
    )
    reserved_seats = models.PositiveIntegerField(default=0)
    reserved_for = models.ManyToManyField(
        Organisation, blank=True, related_name="reserved_events",
        help_text="Members of these organisations may take the reserved seats.",
    )  # fmt: skip
    reserved_until = models.DateTimeField(
        null=True, blank=True, help_text="After this, reserved seats are open to everyone."
    )
    min_attendance_pct = models.PositiveSmallIntegerField(
        default=0,
        help_text="Share of sessions attended for a certificate (0: at least one session).",
    )
    certificate_template = models.TextField(default=DEFAULT_CERTIFICATE, max_length=TEXT_MAX)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_attendance_pct__lte=100), name="event_attendance_pct_le_100"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(reserved_seats__lte=models.F("capacity")),
                name="event_reserved_within_capacity",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Room(TimeStampedModel):
    name = models.CharField(max_length=NAME_MAX, unique=True)
    address = models.CharField(max_length=NAME_MAX, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Session(TimeStampedModel):
    """One slot of an event's timetable: in a room, online (a join link), or both."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=NAME_MAX)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    join_url = models.URLField(blank=True, help_text="Shown only to approved registrants.")

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event}: {self.title}"

    @property
    def seconds(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds())


class FormKind(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    FOLLOW_UP = "follow_up", "Follow-up"


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"
    FILE = "file", "File"
    CONSENT = "consent", "Consent"


class FormField(TimeStampedModel):
    """A question on an event's registration or follow-up form."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="fields")
    form = models.CharField(max_length=16, choices=FormKind.choices)
    key = models.SlugField(max_length=50)
    label = models.CharField(max_length=NAME_MAX)
    kind = models.CharField(max_length=16, choices=FieldKind.choices)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["form", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "form", "key"], name="form_field_key_unique")
        ]

    def __str__(self) -> str:
        return self.label


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    WAITLISTED = "waitlisted", "On the waiting list"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


S = RegistrationStatus
REGISTRATION_TRANSITIONS = Transitions(
    "registration",
    {
        S.PENDING: {S.APPROVED, S.REJECTED, S.WITHDRAWN},
        S.APPROVED: {S.WITHDRAWN, S.REJECTED},
        S.WAITLISTED: {S.PENDING, S.APPROVED, S.WITHDRAWN, S.REJECTED},
        S.REJECTED: set(),
        S.WITHDRAWN: set(),
    },
)
# Statuses that hold a seat.
SEATED = (S.PENDING, S.APPROVED)
ACTIVE = (S.PENDING, S.APPROVED, S.WAITLISTED)


class Registration(TimeStampedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="event_registrations")
    status = models.CharField(max_length=16, choices=RegistrationStatus.choices)
    answers = models.JSONField(default=dict, blank=True)
    reserved = models.BooleanField(default=False, help_text="Holds one of the reserved seats.")
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=TEXT_MAX)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticket = models.CharField(max_length=40, unique=True, default=new_token)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=Q(status__in=["pending", "approved", "waitlisted"]),
                name="registration_one_active_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.event} ({self.status})"


class RegistrationFile(TimeStampedModel):
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="files")
    key = models.SlugField(max_length=50)
    file = models.FileField(upload_to="events/registrations/%Y/%m/")
    name = models.CharField(max_length=NAME_MAX)


class FollowUpResponse(TimeStampedModel):
    registration = models.OneToOneField(
        Registration, on_delete=models.CASCADE, related_name="follow_up"
    )
    answers = models.JSONField(default=dict)


class CheckIn(TimeStampedModel):
    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="check_ins"
    )
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="check_ins")
    by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Staff who checked them in; empty for a self check-in.",
    )  # fmt: skip

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["registration", "session"], name="check_in_once")
        ]


class Certificate(TimeStampedModel):
    registration = models.OneToOneField(
        Registration, on_delete=models.CASCADE, related_name="certificate"
    )
    code = models.CharField(max_length=16, unique=True, default=new_code)
    person = models.CharField(max_length=NAME_MAX)
    event_title = models.CharField(max_length=NAME_MAX)
    dates = models.CharField(max_length=NAME_MAX)
    seconds = models.PositiveIntegerField()
    text = models.TextField(max_length=TEXT_MAX)

    @property
    def hours(self) -> str:
        return f"{self.seconds / 3600:.1f}"


class Segment(models.TextChoices):
    APPROVED = "approved", "Approved"
    WAITLISTED = "waitlisted", "Waiting list"
    PENDING = "pending", "Pending approval"


class Reminder(TimeStampedModel):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="reminders")
    segment = models.CharField(max_length=16, choices=Segment.choices)
    subject = models.CharField(max_length=NAME_MAX)
    body = models.TextField(max_length=TEXT_MAX)
    send_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["send_at", "id"]


class ReminderDelivery(TimeStampedModel):
    """One reminder to one registrant; its row makes a retried task skip who already got it."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "registration"], name="reminder_delivered_once"
            )
        ]
