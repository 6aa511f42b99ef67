"""Mail to an allocation's owners when its budget crosses 80% and 100% (once each)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

from ailab.accounts.models import Membership, Role
from ailab.compute.models import Allocation

log = logging.getLogger(__name__)


def owner_emails(allocation: Allocation) -> list[str]:
    """The organisation's founders plus the allocation's members."""
    founders = Membership.objects.filter(
        organisation_id=allocation.organisation_id, role=Role.FOUNDER
    ).values_list("user__email", flat=True)
    members = allocation.members.values_list("email", flat=True)
    return sorted(set(founders) | set(members))


def send_budget_notice(allocation_id: int, percent: int) -> None:
    allocation = Allocation.objects.select_related("organisation").get(pk=allocation_id)
    recipients = owner_emails(allocation)
    if not recipients:
        return
    hours = allocation.budget_gpu_seconds / 3600
    subject = f"[ailab] allocation {allocation.name} has used {percent}% of its budget"
    body = (
        f"The allocation {allocation.name} of {allocation.organisation.name} has used "
        f"{percent}% of its {hours:,.1f} GPU-hours."
    )
    if percent >= 100:
        body += " It starts no new jobs until lab staff extend it."
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # mail is best effort: the usage is charged whatever happens here
        log.exception("budget notice for allocation %s failed", allocation_id)
