"""Mail to an allocation's owners when its budget crosses 80% and 100% (once each)."""

from __future__ import annotations

import datetime as dt

from ailab.accounts.models import Membership, Role
from ailab.common.mail import mail_after_commit
from ailab.compute.models import Allocation


def owner_emails(allocation: Allocation) -> list[str]:
    """The organisation's founders plus the allocation's members."""
    founders = Membership.objects.filter(
        organisation_id=allocation.organisation_id, role=Role.FOUNDER
    ).values_list("user__email", flat=True)
    members = allocation.members.values_list("email", flat=True)
    return sorted(set(founders) | set(members))


def budget_notice(allocation: Allocation, percent: int, *, at: dt.datetime) -> None:
    """Mail the owners, after commit, that the allocation crossed ``percent`` of its budget
    (once per crossing: the key carries the time it was recorded)."""
    hours = allocation.budget_gpu_seconds / 3600
    subject = f"[ailab] allocation {allocation.name} has used {percent}% of its budget"
    body = (
        f"The allocation {allocation.name} of {allocation.organisation.name} has used "
        f"{percent}% of its {hours:,.1f} GPU-hours."
    )
    if percent >= 100:
        body += " It starts no new jobs until lab staff extend it."
    mail_after_commit(
        key=f"budget:{allocation.pk}:{percent}:{at.isoformat()}",
        subject=subject,
        body=body,
        to=owner_emails(allocation),
    )
