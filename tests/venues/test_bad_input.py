"""Every venue form, fed long, empty, emoji, control-character and injection input in every field,
answers with a form showing errors (400, or 409 for a conflict), never a 500, and changes nothing."""

import pytest
from sqlalchemy import func, select

from app.accounts.models import RoleGrant
from app.bookings.models import Booking, BookingOccurrence
from app.venues.models import ActivityPackage, Closure, OpeningHours, Venue, VenueFacility
from tests.conftest import csrf_token
from tests.test_bad_input import BAD_VALUES

TABLES = [Venue, VenueFacility, OpeningHours, Closure, ActivityPackage, Booking, BookingOccurrence, RoleGrant]

FORMS = {
    "/venues/new": ("admin", ["name", "kind", "operator", "county", "address", "capacity", "facilities",
                              "description", "contact_phone", "min_lead_hours", "horizon_days", "lat", "lon"]),
    "/venues/{venue}/edit": ("admin", ["name", "kind", "operator", "county", "address", "capacity", "facilities",
                                       "description", "contact_phone", "min_lead_hours", "horizon_days", "lat", "lon"]),
    "/venues/{venue}/hours": ("manager", ["day0", "day1", "day2", "day3", "day4", "day5", "day6"]),
    "/venues/{venue}/closures": ("manager", ["first_day", "last_day", "reason"]),
    "/venues/{venue}/packages/new": ("manager", ["name", "content", "provides", "duration_minutes",
                                                 "max_participants", "needs"]),
    "/venues/{venue}/managers": ("admin", ["phone"]),
    "/bookings/{booking}/reject": ("manager", ["reason"]),
    "/bookings/{booking}/cancel": ("organizer", ["reason", "scope", "occurrence"]),
    "/venues/{venue}/book": ("organizer", ["step", "date", "start", "end", "organization", "activity", "title",
                                           "package", "attendees", "co_host_1", "co_attendees_1", "note", "repeat",
                                           "interval", "weekdays", "monthly", "until", "skip_conflicts"]),
}


# A reason is free text: "NaN", emoji or "<script>" are fine there (and shown escaped); what is bad
# is too long, empty, or characters that cannot be shown.
FREE_TEXT_ONLY = {"/bookings/{booking}/reject", "/bookings/{booking}/cancel"}
BAD_FREE_TEXT = ["x" * 10_000, "\x00\x1b[31m\x07", "", "   ", "\u202e\u200b"]


def snapshot(db):
    return tuple(db.session.scalar(select(func.count()).select_from(t)) for t in TABLES) + (
        tuple(db.session.scalars(select(Venue.name).order_by(Venue.id))),)


@pytest.mark.parametrize("path", list(FORMS))
def test_bad_input_in_every_venue_form_gets_a_form_with_errors(db, client, login, create_admin, create_venue,
                                                               manager, book, path):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    who, fields = FORMS[path]
    values = BAD_FREE_TEXT if path in FREE_TEXT_ONLY else BAD_VALUES
    path = path.format(venue=venue.id, booking=booking.id)
    login({"admin": lambda: create_admin("410104"), "manager": lambda: manager(venue),
           "organizer": lambda: booking.booked_by}[who]())
    for value in values:
        before = snapshot(db)
        data = {f: value for f in fields}
        if "step" in data:
            data["step"] = "confirm"
        response = client.post(path, data={**data, "csrf_token": csrf_token(client, path)})
        html = response.get_data(as_text=True)
        assert response.status_code in (400, 409), (path, value[:20], response.status_code)
        assert "error-summary" in html and "<title>错误：" in html, (path, value[:20])
        assert "<script>alert(1)</script>" not in html
        db.session.expire_all()
        assert snapshot(db) == before, (path, value[:20])
