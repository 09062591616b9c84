"""Volunteer records and check-in: what they cost on a filled database.

    .venv/bin/python -m bench.records --members 100000                                        # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/yinhui_bench .venv/bin/python -m bench.records --reuse

The database is filled by bench.population (one member in ten with confirmed hours). Measured in
this process, one after the other:

- **QR code**: app.qr.qr_svg of a check-in address (the organizer's screen draws one every fetch).
- **Export**: app.proofs.national.write_xlsx for a province admin, the whole province's members
  (the five blocks), its time and the growth of this process's peak RSS while it ran.
- **No-show release**: app.bookings.services.release_no_shows() with R bookings that began 40
  minutes ago, nobody checked in: the job's time to release them all.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.matching import OUT, fresh_database


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=2_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'bench-{args.members}.db'}"
    if not args.reuse:
        fresh_database(url)
    work = Path(tempfile.mkdtemp(prefix="yinhui-bench-records-"))

    from app import create_app
    from app.accounts.models import Role, RoleGrant, User
    from app.bookings.models import ActivityType, Booking, BookingOccurrence, BookingStatus
    from app.bookings.services import release_no_shows
    from app.clock import local_now
    from app.db import write_intent
    from app.extensions import db
    from app.organizations.models import LocationSource, Organization, OrganizationKind
    from app.proofs import national
    from app.qr import qr_svg
    from app.venues.models import Venue, VenueKind
    from bench.population import ready

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EXPORT_DIR": str(work), "JOBS_IMMEDIATE": True,
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    results: dict = {"database": url.split(":")[0], "members": args.members}
    with app.app_context():
        ready(args.members, seed=args.seed, reuse=args.reuse)
        admin = User(name="省局", phone="19800000001")
        admin.grants.append(RoleGrant(role=Role.ADMIN, region_code="410000"))
        db.session.add(admin)
        db.session.commit()

        link = "https://yinhui.example.cn/attend/s/123456/" + "x" * 90
        start = time.perf_counter()
        for _ in range(50):
            qr_svg(link, label="签到二维码")
        results["qr_ms"] = round((time.perf_counter() - start) / 50 * 1000, 2)

        stmt = national.members_in(admin, "region", "41")
        members = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        before = peak_rss_mib()
        start = time.perf_counter()
        count = national.write_xlsx(admin, stmt, work / "province.xlsx")
        results["export"] = {"members": count, "seconds": round(time.perf_counter() - start, 1),
                             "peak_rss_growth_mib": round(peak_rss_mib() - before, 1),
                             "file_mib": round((work / "province.xlsx").stat().st_size / 2**20, 1)}
        assert count == members
        db.session.remove()

        token = write_intent.set(True)
        region = "410104"
        operator = Organization(name="压测运营", kind=OrganizationKind.VENUE_OPERATOR, region_code=region,
                                lat=34.75, lon=113.68, location_source=LocationSource.GAZETTEER)
        branch = Organization(name="压测支部", kind=OrganizationKind.PARTY_BRANCH, region_code=region,
                              lat=34.75, lon=113.68, location_source=LocationSource.GAZETTEER)
        db.session.add_all([operator, branch])
        db.session.flush()
        began = local_now().replace(second=0) - timedelta(minutes=40)
        for i in range(args.bookings):
            venue = Venue(name=f"压测家园{i}", kind=VenueKind.SHARED_HOME, operator_id=operator.id, region_code=region,
                          address="东大街", lat=34.75, lon=113.68, capacity=40)
            db.session.add(venue)
            db.session.flush()
            booking = Booking(venue_id=venue.id, organization_id=branch.id, title="主题党日", attendees=10,
                              activity=ActivityType.THEME_PARTY_DAY, status=BookingStatus.APPROVED)
            booking.occurrences = [BookingOccurrence(venue_id=venue.id, start_at=began,
                                                     end_at=began + timedelta(hours=2), status=BookingStatus.APPROVED)]
            db.session.add(booking)
        db.session.commit()
        start = time.perf_counter()
        released = release_no_shows()
        db.session.commit()
        results["release"] = {"bookings": args.bookings, "released": len(released),
                              "seconds": round(time.perf_counter() - start, 2)}
        write_intent.reset(token)

    print(json.dumps(results, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
