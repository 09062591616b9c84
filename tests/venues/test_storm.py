"""The booking storm: 50 threads book overlapping slots of one venue at the same moment, with real
commits on a database of its own (SQLite file in WAL mode, or PostgreSQL), 20 times through the
service and 3 times (STORM_HTTP_REPETITIONS=20 for all 20) through the HTTP view. Each time exactly one booking wins each slot, every
other request is answered with a conflict (409 over HTTP), and nothing fails with a 500.

Five back-to-back hour slots; ten requests per slot, each for an interval that overlaps every
other request of its slot and no request of the neighbouring slots.
"""

from __future__ import annotations

import os
import threading
import time as clock
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, select

from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.audit.models import AuditEvent
from app.bookings import services as bookings
from app.bookings.models import ActivityType, Booking, BookingOccurrence
from app.clock import local_now
from app.db import write_intent
from app.errors import Conflict
from app.extensions import db, limiter
from app.notifications.models import EmailOutbox, Notification
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.venues.models import OpeningHours, Venue, VenueKind
from tests.conftest import CSRF_RE, IsolatedClient, database_url_for, make_app, record, reset_database

pytestmark = pytest.mark.slow

THREADS = 50
REPETITIONS = 20
# Through HTTP each request also loads its session and renders a page, so a storm takes longer;
# the suite runs 3 of them, STORM_HTTP_REPETITIONS=20 runs the full set.
HTTP_REPETITIONS = int(os.environ.get("STORM_HTTP_REPETITIONS", "3"))
SLOTS = [time(9), time(10), time(11), time(12), time(13)]
# Offsets (start, end) in minutes inside a slot, on the booking form's quarter hours: all contain
# minutes 15–30, so every two requests of a slot overlap.
VARIANTS = [(0, 60), (15, 45), (0, 45), (15, 60), (0, 30)]
PASSWORD = "storm-密码-2026"


@pytest.fixture(scope="module")
def storm():
    """An app on its own database, with an engine pool big enough for every thread at once."""
    url = database_url_for("concurrency")
    reset_database(url)
    app = make_app(url, RATELIMIT_ENABLED=False, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_size": THREADS + 5, "max_overflow": 5, "pool_timeout": 60, "pool_pre_ping": False})
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        from app.regions.services import load_gazetteer

        load_gazetteer(prefix="41")
        db.session.commit()
    ids = populate(app)
    yield app, ids
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _limits_off(storm):
    """Hundreds of sign-ins from one address in a second: the storm runs with rate limits off, and
    switches them back on after each test (the limiter's switch is shared by every app)."""
    limiter.enabled = False
    yield
    limiter.enabled = True


def populate(app) -> dict:
    """One venue open 8:00–20:00 every day, its manager, and THREADS party branches, each with an
    organizer who signs in with PASSWORD. Henan's regions must be loaded."""
    with app.app_context():
        county = "410104"
        operator = Organization(name="风暴测试运营单位", kind=OrganizationKind.VENUE_OPERATOR, region_code=county,
                                lat=34.75, lon=113.68, location_source=LocationSource.GAZETTEER)
        venue = Venue(name="风暴测试政治生活馆", kind=VenueKind.POLITICAL_LIFE_HALL, operator=operator, region_code=county,
                      address="东大街", lat=34.75, lon=113.68, capacity=100, min_lead_hours=0, horizon_days=60,
                      closed_on_holidays=False)
        venue.hours = [OpeningHours(weekday=d, opens=time(8), closes=time(20)) for d in range(7)]
        db.session.add(venue)
        password_hash = hash_password(PASSWORD)
        people = []
        for i in range(THREADS):
            org = Organization(name=f"风暴测试党支部{i:02d}", kind=OrganizationKind.PARTY_BRANCH, region_code=county,
                               lat=34.75, lon=113.68, location_source=LocationSource.GAZETTEER)
            user = User(name=f"书记{i:02d}", phone=f"1970000{i:04d}", password_hash=password_hash)
            user.grants.append(RoleGrant(role=Role.ORGANIZER, organization=org))
            db.session.add(user)
            people.append((org, user))
        manager = User(name="馆长", phone="19700009999", password_hash=password_hash)
        db.session.add(manager)
        db.session.flush()
        manager.grants.append(RoleGrant(role=Role.VENUE_MANAGER, venue_id=venue.id))
        db.session.commit()
        ids = dict(venue=venue.id, people=[(o.id, u.id, u.phone) for o, u in people])
        db.session.remove()
    return ids


def requests_for(day) -> list[tuple[datetime, datetime]]:
    result = []
    for i in range(THREADS):
        slot, (a, b) = SLOTS[i % len(SLOTS)], VARIANTS[(i // len(SLOTS)) % len(VARIANTS)]
        base = datetime.combine(day, slot)
        result.append((base + timedelta(minutes=a), base + timedelta(minutes=b)))
    return result


def clean(app, venue_id: int) -> None:
    with app.app_context():
        token = write_intent.set(True)
        try:
            db.session.execute(delete(Booking).where(Booking.venue_id == venue_id))
            db.session.execute(delete(EmailOutbox))
            db.session.execute(delete(Notification))
            db.session.execute(delete(AuditEvent))
            db.session.commit()
        finally:
            write_intent.reset(token)
            db.session.remove()


def check_outcome(app, venue_id: int, day, outcomes: list[str]) -> None:
    tally = Counter(o.split(":")[0] for o in outcomes)
    assert tally == {"ok": len(SLOTS), "conflict": THREADS - len(SLOTS)}, outcomes
    with app.app_context():
        held = db.session.scalars(select(BookingOccurrence).where(
            BookingOccurrence.venue_id == venue_id, BookingOccurrence.status.in_(bookings.SLOT_HOLDING))
            .order_by(BookingOccurrence.start_at)).all()
        for slot in SLOTS:
            base = datetime.combine(day, slot)
            inside = [o for o in held if base <= o.start_at and o.end_at <= base + timedelta(hours=1)]
            assert len(inside) == 1, (slot, [(o.start_at, o.end_at) for o in inside])
        assert len(held) == len(SLOTS)
        for a, b in zip(held, held[1:], strict=False):
            assert a.end_at <= b.start_at
        db.session.remove()


def by_service(app, ids, day):
    venue_id = ids["venue"]
    barrier = threading.Barrier(THREADS)

    def attempt(i, start, end):
        org_id, user_id, _ = ids["people"][i]
        barrier.wait()
        with app.app_context():
            token = write_intent.set(True)  # outside a request: ask for BEGIN IMMEDIATE on SQLite
            try:
                bookings.book_venue(actor=db.session.get(User, user_id), request=bookings.BookingRequest(
                    venue=db.session.get(Venue, venue_id), organization=db.session.get(Organization, org_id),
                    start=start, end=end, activity=ActivityType.THEME_PARTY_DAY, title=f"风暴{i}", attendees=10))
                db.session.commit()
                return "ok"
            except Conflict as e:
                db.session.rollback()
                assert "已被预约" in e.message or "请重新提交" in e.message, e.message
                return "conflict"
            except Exception as e:  # anything else would be a 500
                db.session.rollback()
                return f"error: {type(e).__name__}: {e}"
            finally:
                write_intent.reset(token)
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(attempt, i, s, e) for i, (s, e) in enumerate(requests_for(day))]
        return [f.result() for f in futures]


def signed_in_clients(app, ids):
    clients = []
    for _, _, phone in ids["people"]:
        client = app.test_client()
        token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
        response = client.post("/login", data={"phone": phone, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302
        clients.append(client)
    return clients


def by_http(app, ids, clients, day):
    venue_id = ids["venue"]
    path = f"/venues/{venue_id}/book"
    tokens = [CSRF_RE.search(c.get(path).get_data(as_text=True)).group(1) for c in clients]
    barrier = threading.Barrier(THREADS)

    def attempt(i, start, end):
        org_id = ids["people"][i][0]
        data = {"csrf_token": tokens[i], "step": "confirm", "date": day.isoformat(), "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"), "organization": str(org_id), "activity": "theme_party_day",
                "title": f"风暴{i}", "attendees": "10", "package": "", "repeat": "none", "interval": "1"}
        barrier.wait()
        response = clients[i].post(path, data=data)
        if response.status_code == 302:
            return "ok"
        body = response.get_data(as_text=True)
        if response.status_code == 409 and ("已被预约" in body or "请重新提交" in body):
            return "conflict"     # the slot is taken, or PostgreSQL broke a lock cycle: asked to retry
        return f"error: HTTP {response.status_code}"

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(attempt, i, s, e) for i, (s, e) in enumerate(requests_for(day))]
        return [f.result() for f in futures]


def test_a_storm_of_overlapping_bookings_gives_one_winner_per_slot(storm):
    app, ids = storm
    day = local_now().date() + timedelta(days=7)
    figures = {}
    for mode in ("service", "http"):
        clients = signed_in_clients(app, ids) if mode == "http" else None
        started = clock.perf_counter()
        totals = Counter()
        repetitions = REPETITIONS if mode == "service" else HTTP_REPETITIONS
        for _ in range(repetitions):
            clean(app, ids["venue"])
            outcomes = by_service(app, ids, day) if mode == "service" else by_http(app, ids, clients, day)
            check_outcome(app, ids["venue"], day, outcomes)
            totals.update(o.split(":")[0] for o in outcomes)
        figures[mode] = {"repetitions": repetitions, "threads": THREADS, "slots": len(SLOTS),
                         "requests": sum(totals.values()), "won": totals["ok"], "conflicts": totals["conflict"],
                         "errors": totals["error"], "seconds": round(clock.perf_counter() - started, 2)}
    clean(app, ids["venue"])
    with app.app_context():
        dialect = db.engine.dialect.name
    record("storm", {dialect: figures})
    print(f"\nstorm on {dialect}: {figures}")
