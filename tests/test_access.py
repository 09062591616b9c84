"""The permission matrix, generated from app.access.rules: every role × in scope / out of scope ×
every check, against a table a reader can check. A rule added to app.access without a row here
fails the first test; a rule whose answer changes fails the second; a list query (the SQL twin of
a rule) that disagrees with its rule fails the third.

The world: three counties, A = 管城回族区 (郑州市, Henan), B = 淅川县 (南阳市, Henan), C = 东城区
(Beijing). In each: a party branch and its organizer, a member of that branch living there with a
county pool application, an open task of the branch with the member invited to it and a second
task the member accepted, a venue with its manager, one of its packages and a pending booking of
the branch there. Who is in and out of scope, by role:

    member       in: their own records, and the objects of A      out: those of B
    organizer    in: their branch (A) and what belongs to it      out: those of B
    manager      in: their venue (A) and its bookings             out: those of B
    county admin (管城) in: A     out: B
    city admin   (郑州) in: A     out: B
    province admin (河南) in: A   out: C (Beijing)
    anonymous    nothing, ever: templates ask through access.Permissions, which says no
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from app import access
from app.access import loaders, rules
from app.accounts.models import Role, RoleGrant, User
from app.bookings.models import ActivityType, Booking, BookingHost, BookingOccurrence, BookingStatus
from app.clock import local_now
from app.members.models import (
    EntryOrigin,
    EntryStatus,
    ImportJob,
    MemberProfile,
    PoolEntry,
    PoolLevel,
)
from app.notifications.models import Notification
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.models import Region
from app.tasks.models import Assignment, AssignmentStatus, Task
from app.venues.models import ActivityPackage, Venue, VenueKind

ROLES = ["member", "organizer", "manager", "county", "city", "province"]
COUNTIES = {"A": "410104", "B": "411326", "C": "110105"}
OUT = {"member": "B", "organizer": "B", "manager": "B", "county": "B", "city": "B", "province": "C"}

# check → answers for member, organizer, venue manager, county admin, city admin, province admin;
# each pair is (in scope, out of scope).
MATRIX = """
administer             NN NN NN YY YY YY
organize               NN YY NN YY YY YY
use_venues             NN YY YY YY YY YY
review_bookings        NN NN YY YY YY YY
run_venues             NN NN YY NN NN NN
serve                  YY NN NN NN NN NN
create_organization    NN NN NN YY YY YY
edit_taxonomy          NN NN NN NN NN YY
import_rosters         NN NN NN YY YY YY
export_full_phones     NN NN NN YY YY YY
create_venue           NN NN NN YY YY YY
book_venues            NN YY NN NN NN NN
find_accounts          NN NN NN YY YY YY
see_organization       NN YN NN YN YN YN
edit_organization      NN NN NN YN YN YN
place_in               NN NN NN YN YN YN
post_task_for          NN YN NN YN YN YN
book_for               NN YN NN NN NN NN
manage_feed            NN YN NN NN NN NN
see_member             NN YN NN YN YN YN
edit_member            YN NN NN YN YN YN
issue_claim_code       YN NN NN YN YN YN
care_for_account       NN YN NN YN YN YN
merge_accounts         NN YN NN YN YN YN
undo_deceased          NN NN NN NN NN NN
transfer_member        NN NN NN YN YN YN
sees_phone             YN NN NN YN YN YN
decide_for_self        YN NN NN NN NN NN
register_for_others    NN YN NN YN YN YN
nominate               NN YN NN YN YN YN
decide_entry           NN NN NN YN YN YN
withdraw_entry         YN NN NN YN YN YN
see_import             YN YN YN YN YN YN
manage_task            NN YN NN YN YN YN
invite                 NN YN NN YN YN YN
confirm_hours          NN YN NN YN YN YN
take_attendance        NN YN NN YN YN YN
check_in               YN NN NN NN NN NN
issue_certificate      YN YN NN YN YN YN
see_certificate        YN YN NN YN YN YN
record_volunteer_history NN YN NN YN YN YN
export_volunteer_records NN YY NN YY YY YY
decide_application     NN YN NN YN YN YN
see_task_as_member     YY YY YY YY YY YY
apply                  YY NN NN NN NN NN
answer                 YN NN NN NN NN NN
answer_for             NN YN NN YN YN YN
withdraw               YN NN NN NN NN NN
manage_venue           NN NN YN YN YN YN
see_venue              NN YY YN YN YN YN
relocate_venue         NN NN NN YN YN YN
appoint_managers       NN NN NN YN YN YN
edit_package           NN NN YN YN YN YN
book                   NN YY NN NN NN NN
sees_booking           NN YN YN YN YN YN
decide_booking         NN NN YN YN YN YN
cancel_booking         NN YN YN YN YN YN
take_booking_attendance NN YN YN YN YN YN
sees_booker_phone      NN NN YN YN YN YN
see_account            NN NN NN YN YN YN
grant                  NN NN NN YN YN YN
revoke                 NN NN NN YN YN YN
set_active             NN NN NN YN YN YN
read_notification      YN YN YN YN YN YN
see_region_figures     NN NN NN YN YN YN
see_org_figures        NN NN NN YN YN YN
"""


def expected() -> dict[str, dict[tuple[str, str], bool]]:
    table = {}
    for line in MATRIX.strip().splitlines():
        name, *pairs = line.split()
        assert len(pairs) == len(ROLES), line
        table[name] = {(role, scope): pair[i] == "Y" for role, pair in zip(ROLES, pairs, strict=True)
                       for i, scope in enumerate(("in", "out"))}
    return table


def rule_names() -> set[str]:
    """Every check app.access.rules defines: may_x(actor, …) as x, sees_x(actor, …) as sees_x."""
    return {name.removeprefix("may_") for name, fn in inspect.getmembers(rules, inspect.isfunction)
            if fn.__module__ == rules.__name__ and (name.startswith("may_") or name.startswith("sees_"))}


def test_every_rule_has_a_row_in_the_matrix():
    assert set(expected()) == rule_names()


# --- the world ---------------------------------------------------------------------------------------


@dataclass
class Place:
    """Everything of one county."""

    code: str
    branch: Organization
    organizer: User
    member: MemberProfile
    entry: PoolEntry
    task: Task
    invited: Assignment
    accepted: Assignment
    venue: Venue
    manager: User
    package: ActivityPackage
    booking: Booking
    extra: dict[str, Any] = field(default_factory=dict)


_n = itertools.count(1)


def build_place(db, create_user, create_member, create_task, key: str) -> Place:
    code = COUNTIES[key]
    region = db.session.get(Region, code)
    branch = Organization(name=f"{key}支部{next(_n)}", kind=OrganizationKind.PARTY_BRANCH, region_code=code,
                          address="", lat=region.lat, lon=region.lon, location_source=LocationSource.GAZETTEER)
    db.session.add(branch)
    db.session.commit()
    organizer = create_user(name=f"书记{key}", roles=[("organizer", branch)])
    member = create_member(name=f"老同志{key}", county=code, branch=branch)
    entry = PoolEntry(member_id=member.id, level=PoolLevel.COUNTY, region_code=code, status=EntryStatus.NOMINATED,
                      origin=EntryOrigin.APPLIED, nominated_by_id=member.id)
    db.session.add(entry)
    task = create_task(org=branch, organizer=organizer, skills={})
    second = create_task(org=branch, organizer=organizer, skills={}, title="第二项")
    invited = Assignment(task_id=task.id, member_id=member.id, origin="invited", status=AssignmentStatus.INVITED)
    accepted = Assignment(task_id=second.id, member_id=member.id, origin="applied", status=AssignmentStatus.ACCEPTED)
    venue = Venue(name=f"{key}共享家园{next(_n)}", kind=VenueKind.SHARED_HOME, operator=branch, region_code=code,
                  address="", lat=region.lat, lon=region.lon, capacity=40)
    db.session.add_all([invited, accepted, venue])
    db.session.commit()
    manager = create_user(name=f"管理员{key}", roles=[("venue_manager", venue.id)])
    package = ActivityPackage(venue=venue, name="重温入党誓词", duration_minutes=60, max_participants=40)
    start = (local_now() + timedelta(days=9)).replace(hour=9, minute=0, second=0)
    booking = Booking(venue=venue, organization=branch, booked_by_id=organizer.id, title="主题党日",
                      activity=ActivityType.THEME_PARTY_DAY, attendees=10, status=BookingStatus.PENDING)
    booking.hosts = [BookingHost(organization_id=branch.id, attendees=10)]
    booking.occurrences = [BookingOccurrence(venue_id=venue.id, start_at=start, end_at=start + timedelta(hours=1))]
    db.session.add_all([package, booking])
    db.session.commit()
    offline = create_member(name=f"不用手机的老同志{key}", county=code, branch=branch)
    offline.user.password_hash = None           # registered by proxy, never claimed
    by_phone = Assignment(task_id=task.id, member_id=offline.id, origin="invited", status=AssignmentStatus.INVITED)
    db.session.add(by_phone)
    db.session.commit()
    return Place(code, branch, organizer, member, entry, task, invited, accepted, venue, manager, package, booking,
                 extra={"by_phone": by_phone})


@pytest.fixture
def world(db, create_user, create_member, create_task, create_admin):
    places = {key: build_place(db, create_user, create_member, create_task, key) for key in COUNTIES}
    actors = {"member": places["A"].member.user, "organizer": places["A"].organizer, "manager": places["A"].manager,
              "county": create_admin("410104"), "city": create_admin("410100"), "province": create_admin("410000")}
    for actor in actors.values():   # an import job and a message of their own, and someone else's
        db.session.add_all([ImportJob(created_by_id=actor.id, filename="名册.xlsx", mode="valid"),
                            Notification(user_id=actor.id, kind="test", title="给您的消息")])
    someone = create_user(name="别人")
    db.session.add_all([ImportJob(created_by_id=someone.id, filename="别人的.xlsx", mode="valid"),
                        Notification(user_id=someone.id, kind="test", title="给别人的消息")])
    db.session.commit()
    return places, actors, someone


def own(model, actor: User, db) -> Any:
    column = ImportJob.created_by_id if model is ImportJob else Notification.user_id
    return db.session.scalar(select(model).where(column == actor.id))


def arguments(name: str, place: Place, actor: User, inside: bool, someone: User, db) -> tuple:
    """What each check is asked about, in the place given (for one's own records: the actor's own
    inside, someone else's outside)."""
    grant = next(g for g in place.organizer.grants if g.role is Role.ORGANIZER)
    if name in ("see_import", "read_notification"):
        model = ImportJob if name == "see_import" else Notification
        return (own(model, actor if inside else someone, db),)
    return {
        "see_organization": (place.branch,), "edit_organization": (place.branch,), "place_in": (place.code,),
        "post_task_for": (place.branch,), "book_for": (place.branch,), "manage_feed": (place.branch,),
        "see_member": (place.member,), "edit_member": (place.member,), "issue_claim_code": (place.member,),
        "care_for_account": (place.member,), "undo_deceased": (place.member,),
        "merge_accounts": (place.member, place.member),
        "transfer_member": (place.member,),
        "sees_phone": (place.member,), "decide_for_self": (place.member,),
        "register_for_others": (place.code, place.branch.id), "nominate": (place.member, PoolLevel.COUNTY),
        "decide_entry": (place.entry,), "withdraw_entry": (place.entry,),
        "manage_task": (place.task,), "invite": (place.task,), "confirm_hours": (place.task,),
        "take_attendance": (place.task,), "check_in": (place.accepted,),
        "issue_certificate": (place.member, place.branch), "see_certificate": (place.member.id, place.branch),
        "take_booking_attendance": (place.booking,), "record_volunteer_history": (place.member,),
        "decide_application": (place.invited,), "see_task_as_member": (place.task, place.invited),
        "apply": (place.task,), "answer": (place.invited,), "withdraw": (place.accepted,),
        "answer_for": (place.extra["by_phone"],),
        "manage_venue": (place.venue,), "see_venue": (place.venue,), "relocate_venue": (place.venue,),
        "appoint_managers": (place.venue,), "edit_package": (place.package, place.venue), "book": (place.venue,),
        "sees_booking": (place.booking,), "decide_booking": (place.booking,), "cancel_booking": (place.booking,),
        "sees_booker_phone": (place.booking,), "see_account": (place.organizer,),
        "grant": (Role.ORGANIZER, place.code), "revoke": (grant,), "set_active": (place.organizer,),
        "see_region_figures": (db.session.get(Region, place.code),), "see_org_figures": (place.branch,),
    }.get(name, ())


def ask(name: str, actor: Any, args: tuple) -> bool:
    return getattr(access.Permissions(actor), name)(*args)


def test_the_matrix(db, world):
    places, actors, someone = world
    table = expected()
    wrong = []
    for name in sorted(table):
        for role in ROLES:
            for scope in ("in", "out"):
                place = places["A" if scope == "in" else OUT[role]]
                args = arguments(name, place, actors[role], scope == "in", someone, db)
                answer = ask(name, actors[role], args)
                if answer != table[name][(role, scope)]:
                    wrong.append(f"{name} / {role} / {scope}: {'Y' if answer else 'N'}")
                assert not ask(name, AnonymousUserMixin(), args), f"{name}: nobody signed in may nothing"
    assert not wrong, "answers differ from the table:\n" + "\n".join(wrong)


TWINS = [  # (model, its list query's rule, the check it must agree with, the objects of a place)
    (Organization, "see_organization", lambda p: [p.branch]),
    (MemberProfile, "see_member", lambda p: [p.member]),
    (PoolEntry, "decide_entry", lambda p: [p.entry]),
    (Task, "manage_task", lambda p: [p.task]),
    (Venue, "see_venue", lambda p: [p.venue]),
    (Booking, "sees_booking", lambda p: [p.booking]),
    (User, "see_account", lambda p: [p.organizer, p.manager, p.member.user]),
]


@pytest.mark.parametrize("model, check, objects", TWINS, ids=[t[0].__name__ for t in TWINS])
def test_each_list_query_agrees_with_its_rule(db, world, model, check, objects):
    places, actors, _ = world
    for role, actor in actors.items():
        key = model.__mapper__.primary_key[0]
        listed = set(db.session.scalars(access.visible(model, actor).with_only_columns(key)))
        for place in places.values():
            for obj in objects(place):
                assert (obj.id in listed) == ask(check, actor, (obj,)), (model.__name__, role, place.code)


def test_the_accounts_staff_may_look_after_agree_with_the_rule(db, world):
    """accounts_cared_for (the merge's search) is the SQL twin of may_care_for_account."""
    places, actors, someone = world
    for actor in [*actors.values(), someone]:
        listed = set(db.session.scalars(select(MemberProfile.id).where(access.accounts_cared_for(actor))))
        for place in places.values():
            assert (place.member.id in listed) == ask("care_for_account", actor, (place.member,)), place.code


def test_own_records_lists_agree_with_their_rules(db, world):
    _, actors, someone = world
    for actor in [*actors.values(), someone]:
        for model, check in ((ImportJob, "see_import"), (Notification, "read_notification")):
            listed = set(db.session.scalars(access.visible(model, actor).with_only_columns(model.id)))
            every = db.session.scalars(select(model)).all()
            assert {o.id for o in every if ask(check, actor, (o,))} == listed


@pytest.mark.parametrize("model, check, objects", TWINS, ids=[t[0].__name__ for t in TWINS])
def test_loading_by_id_agrees_with_its_rule_each_time(db, world, model, check, objects):
    """access.get() builds its statement once per kind of record, options and scope, and reuses it:
    every actor, asked twice (the second time from the statement built the first), loads by id
    exactly what the rule lets them see."""
    places, actors, _ = world
    for _ in range(2):
        for role, actor in actors.items():
            for place in places.values():
                for obj in objects(place):
                    assert (access.get(model, obj.id, actor) is not None) == ask(check, actor, (obj,)), \
                        (model.__name__, role, place.code)


def test_a_grant_taken_away_or_given_changes_what_loads_by_id_at_once(db, world, create_user):
    """The statement get() reuses follows the actor's grants: the organizer whose grant is taken
    away loses the branch's task at the next load, and has it again once the grant is back; an
    organizer of another branch, with a grant of the same shape, never gets it."""
    places, actors, _ = world
    organizer, task = actors["organizer"], places["A"].task
    other = create_user(name="别的书记", roles=[("organizer", places[OUT["organizer"]].branch)])
    assert access.get(Task, task.id, organizer) is not None
    assert access.get(Task, task.id, other) is None
    grant = next(g for g in organizer.grants if g.role is Role.ORGANIZER)
    organization_id = grant.organization_id
    organizer.grants.remove(grant)
    db.session.commit()
    assert access.get(Task, task.id, organizer) is None
    organizer.grants.append(RoleGrant(role=Role.ORGANIZER, organization_id=organization_id))
    db.session.commit()
    assert access.get(Task, task.id, organizer) is not None
    assert access.get(Task, task.id, other) is None


def test_the_statements_get_keeps_are_bounded(db, world, monkeypatch):
    """get() keeps at most ROW_STATEMENTS_MAX statements, and answers as before once it has
    emptied its store."""
    places, actors, _ = world
    monkeypatch.setattr(loaders, "ROW_STATEMENTS_MAX", 3)
    loaders._ROW_STATEMENTS.clear()
    for _ in range(2):
        for actor in actors.values():
            for place in places.values():
                assert (access.get(Task, place.task.id, actor) is not None) == ask("manage_task", actor, (place.task,))
                assert len(loaders._ROW_STATEMENTS) <= 3


def test_an_actor_with_several_grants_loads_by_id_what_each_grant_gives(db, world, create_user):
    """Organizer of two branches and manager of a venue at once: both branches' tasks and the venue
    load by id, the third branch's do not; asked twice, the second time from the kept statement."""
    places, _, _ = world
    both = create_user(name="两个支部的书记", roles=[("organizer", places["A"].branch), ("organizer", places["B"].branch),
                                                ("venue_manager", places["C"].venue.id)])
    for _ in range(2):
        assert access.get(Task, places["A"].task.id, both) is not None
        assert access.get(Task, places["B"].task.id, both) is not None
        assert access.get(Task, places["C"].task.id, both) is None
        assert access.get(Venue, places["C"].venue.id, both) is not None
