"""Calendar arithmetic for programme timelines (months, not 30-day blocks)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 -> 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


DEFAULT_MILESTONES = [
    (1, "Goals and metrics agreed", "OKRs for the six months, agreed with mentors."),
    (2, "Customer discovery", "Twenty customer interviews, problem validated."),
    (3, "Model and product MVP", "A working MVP trained on the lab's cluster."),
    (4, "Pilot with a partner", "A paid or signed pilot with an industry partner."),
    (5, "Fundraising readiness", "Data room and deck reviewed by the investment team."),
    (6, "Demo day", "Pitch to investors."),
]
