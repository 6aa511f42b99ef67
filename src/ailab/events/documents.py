"""Files made for people: calendars (.ics), ticket QR codes (SVG), certificates (PDF)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import segno
from fpdf import FPDF
from icalendar import Calendar
from icalendar import Event as VEvent

from ailab.events.models import Certificate, Session

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def calendar_ics(
    sessions: Iterable[Session], *, name: str, host: str, with_links: set[int] | None = None
) -> bytes:
    """A calendar with one VEVENT per session; join links only for the events in
    ``with_links`` (those the person is approved for)."""
    cal = Calendar()
    cal.add("prodid", "-//ailab//events//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for s in sessions:
        ev = VEvent()
        ev.add("uid", f"session-{s.pk}@{host}")
        ev.add("summary", f"{s.event.title}: {s.title}")
        ev.add("dtstart", s.starts_at)
        ev.add("dtend", s.ends_at)
        ev.add("dtstamp", s.updated_at)
        if s.room is not None:
            ev.add("location", s.room.name + (f", {s.room.address}" if s.room.address else ""))
        if with_links and s.event_id in with_links and s.join_url:
            ev.add("url", s.join_url)
        cal.add_component(ev)
    return bytes(cal.to_ical())


def ticket_qr_svg(ticket: str) -> str:
    """The QR code holds the ticket's code and nothing else."""
    out = io.BytesIO()
    segno.make(ticket, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return out.getvalue().decode()


def certificate_pdf(cert: Certificate, *, verify_url: str) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    family = "helvetica"
    if FONT.exists():  # Unicode names (Chinese, accents) need a TrueType font
        pdf.add_font("dejavu", fname=str(FONT))
        family = "dejavu"

    def text(value: str) -> str:
        return value if family == "dejavu" else value.encode("latin-1", "replace").decode()

    pdf.set_line_width(1)
    pdf.rect(10, 10, 277, 190)
    pdf.set_font(family, size=30)
    pdf.set_y(35)
    pdf.cell(0, 14, text("Certificate of attendance"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=22)
    pdf.ln(8)
    pdf.cell(0, 12, text(cert.person), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=14)
    pdf.ln(6)
    pdf.set_x(35)
    pdf.multi_cell(227, 8, text(cert.text), align="C")
    pdf.ln(4)
    pdf.cell(0, 8, text(f"{cert.event_title} · {cert.dates} · {cert.hours} h"), align="C")
    pdf.set_font(family, size=10)
    pdf.set_y(175)
    pdf.cell(
        0, 6, text(f"Verification code {cert.code}: {verify_url}"), align="C",
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    return bytes(pdf.output())
