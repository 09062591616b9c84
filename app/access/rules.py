"""Every "may this actor do X" rule of Yinhui, one named check each, and for the lists the SQL
twin of the same rule (`*_visible`). Views, services, list queries and templates (through the
`may` helper, app.access.web) ask here and nowhere else.

Who is who (DESIGN §1): a member looks after their own record; an organizer (branch secretary,
community worker) acts for the organizations they organize; a venue manager runs their venues;
an admin (老干部局) runs everything inside their region's subtree. A check takes the actor and
the object; it answers from the actor's grants and the object's own columns, without queries.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from app.access.scope import (
    admin_prefixes,
    covers,
    holds,
    is_admin,
    is_province_admin,
    managed_venues,
    organized,
    organized_counties,
    signed_in,
)
from app.accounts.models import Role, RoleGrant, User
from app.bookings.models import Booking, BookingHost
from app.members.models import ImportJob, MemberProfile, MemberStatus, PoolEntry, PoolLevel
from app.notifications.models import Notification
from app.organizations.models import Organization
from app.regions.codes import code_within
from app.regions.models import Region
from app.tasks.models import Assignment, AssignmentStatus, Task, TaskStatus
from app.venues.models import ActivityPackage, Venue

# --- the staff areas (which pages a role opens at all) -------------------------------------------


def may_administer(actor: User) -> bool:
    """老干部局 staff: accounts and roles, pool decisions, imports, organizations."""
    return is_admin(actor)


def may_organize(actor: User) -> bool:
    """Organizers and admins: volunteer needs, the pool's search and registration by proxy."""
    return holds(actor, Role.ORGANIZER) or is_admin(actor)


def may_use_venues(actor: User) -> bool:
    """Anyone who books, runs or oversees venues."""
    return holds(actor, Role.ORGANIZER) or holds(actor, Role.VENUE_MANAGER) or is_admin(actor)


def may_review_bookings(actor: User) -> bool:
    """Venue managers and admins: the approval queue."""
    return holds(actor, Role.VENUE_MANAGER) or is_admin(actor)


def may_run_venues(actor: User) -> bool:
    """Venue managers: the venues they run and their approval queue."""
    return holds(actor, Role.VENUE_MANAGER)


def may_serve(actor: User) -> bool:
    """Members: their profile, tasks near them, their hours."""
    return holds(actor, Role.MEMBER)


# --- dashboards --------------------------------------------------------------------------------------


def may_see_region_figures(actor: User, region: Region) -> bool:
    """A region's dashboard and its export: admins whose region covers it (their own or one inside)."""
    return region.is_current and covers(actor, region.code)


def may_see_org_figures(actor: User, org: Organization) -> bool:
    """An organization's dashboard: admins whose region covers the organization's county."""
    return covers(actor, org.region_code)


# --- organizations ---------------------------------------------------------------------------------


def may_see_organization(actor: User, org: Organization) -> bool:
    return covers(actor, org.region_code) or org.id in organized(actor)


def organizations_visible(actor: User) -> ColumnElement[bool]:
    own = organized(actor)
    clause = code_within(Organization.region_code, admin_prefixes(actor))
    return or_(clause, Organization.id.in_(sorted(own))) if own else clause


def may_create_organization(actor: User) -> bool:
    return is_admin(actor)


def may_edit_organization(actor: User, org: Organization) -> bool:
    """The admins of its region (an admin elsewhere who organizes it may see it, not edit it)."""
    return covers(actor, org.region_code)


def may_place_in(actor: User, county_code: str | None) -> bool:
    """Staff put organizations, venues and imported members only in counties of their region."""
    return covers(actor, county_code)


def may_post_task_for(actor: User, org: Organization) -> bool:
    return org.id in organized(actor) or covers(actor, org.region_code)


def may_book_for(actor: User, org: Organization) -> bool:
    """Only the organization's own organizers book venues in its name."""
    return org.id in organized(actor)


def may_manage_feed(actor: User, org: Organization) -> bool:
    """The secret calendar address of a branch's bookings: its organizers."""
    return org.id in organized(actor)


# --- members and the pool --------------------------------------------------------------------------


def may_see_member(actor: User, member: MemberProfile) -> bool:
    """Admins see the members whose home is in their regions; organizers their branches' members
    and those they registered themselves. Deleted members are nobody's."""
    if member.status is MemberStatus.DELETED:
        return False
    if covers(actor, member.region_code):
        return True
    own = organized(actor)
    return bool(own) and (member.branch_id in own or member.registered_by_id == actor.id)


def member_reaches(actor: User) -> list[ColumnElement[bool]]:
    """The parts of members_visible, each one index's walk: the regions the actor administers,
    and for an organizer the branches they organize and the members they registered. A pool
    search reads them apart and merges them (app.members.search), because a database asked for
    their OR must visit every member's row to sort or filter it."""
    reaches = []
    prefixes = admin_prefixes(actor)
    if prefixes:
        reaches.append(code_within(MemberProfile.region_code, prefixes))
    own = organized(actor)
    if own:
        reaches += [MemberProfile.branch_id.in_(sorted(own)), MemberProfile.registered_by_id == actor.id]
    return reaches


def members_visible(actor: User) -> ColumnElement[bool]:
    reaches = member_reaches(actor)
    return (or_(*reaches) if reaches else false()) & (MemberProfile.status != MemberStatus.DELETED)


def may_edit_member(actor: User, member: MemberProfile) -> bool:
    """The member; the admins of their region; and while nobody has claimed a record registered
    by proxy, the organizer who registered it and the organizers of the member's branch."""
    if member.status is MemberStatus.DELETED:
        return False
    if actor.id == member.id or covers(actor, member.region_code):
        return True
    return member.user.password_hash is None and (
        member.registered_by_id == actor.id or member.branch_id in organized(actor))


def may_issue_claim_code(actor: User, member: MemberProfile) -> bool:
    """A new claim code for a record registered by proxy: whoever may edit it."""
    return may_edit_member(actor, member)


def may_care_for_account(actor: User, member: MemberProfile) -> bool:
    """Looking after a member's account for them — a one-time password reset code (shown once, to
    read out or hand over), disabling and re-enabling it, marking them deceased, changing the
    registered phone after checking who they are: the organizers of the member's branch and the
    admins whose region holds their home; never one's own account."""
    if member.status is MemberStatus.DELETED or actor.id == member.id:
        return False
    return member.branch_id in organized(actor) or covers(actor, member.region_code)


def accounts_cared_for(actor: User) -> ColumnElement[bool]:
    """The members whose accounts an actor may look after (SQL twin of may_care_for_account)."""
    clause = code_within(MemberProfile.region_code, admin_prefixes(actor))
    own = organized(actor)
    if own:
        clause = or_(clause, MemberProfile.branch_id.in_(sorted(own)))
    return clause & (MemberProfile.status != MemberStatus.DELETED) & (MemberProfile.id != actor.id)


def may_merge_accounts(actor: User, survivor: MemberProfile, merged: MemberProfile) -> bool:
    """Merging two accounts of one person into one: staff who may look after both (an organizer of
    a branch holding both, an admin whose region holds both homes). The same account twice is
    allowed here and refused with a message by the merge itself."""
    return may_care_for_account(actor, survivor) and may_care_for_account(actor, merged)


def may_transfer_member(actor: User, member: MemberProfile) -> bool:
    """Moving a member's record to another county (they moved house): the admins whose region holds
    their home now; the receiving county's admins see it from then on."""
    return member.status is not MemberStatus.DELETED and actor.id != member.id and covers(actor, member.region_code)


def may_undo_deceased(actor: User, member: MemberProfile) -> bool:
    """Taking back a 逝世 mark made in error: the admins whose region holds the member's home."""
    return member.deceased_at is not None and covers(actor, member.region_code)


def sees_phone(actor: User, member: MemberProfile) -> bool:
    """Full numbers only for the member and the admins whose region holds them: 138****1234 else."""
    return actor.id == member.id or covers(actor, member.region_code)


def may_export_full_phones(actor: User) -> bool:
    """An export with whole numbers (audited): admins, for the members of their regions."""
    return is_admin(actor)


def full_phones_visible(actor: User) -> ColumnElement[bool]:
    """The members whose full number an export may carry for this actor (SQL twin of sees_phone)."""
    return code_within(MemberProfile.region_code, admin_prefixes(actor))


def may_decide_for_self(actor: User, member: MemberProfile) -> bool:
    """Consent to sensitive fields, deleting the account, applying to the pool: the member alone."""
    return actor.id == member.id


def may_register_for_others(actor: User, county_code: str, branch_id: int | None) -> bool:
    """Registration by proxy (代注册): admins in their region; organizers for their own branch,
    or for any member living in a county where one of their organizations is."""
    if covers(actor, county_code):
        return True
    own = organized(actor)
    if not own:
        return False
    return branch_id is None or branch_id in own or county_code in organized_counties(actor)


def may_nominate(actor: User, member: MemberProfile, level: PoolLevel) -> bool:
    """The county pool: the member's branch's organizers and the admins of their home; higher
    pools: the admins of their home."""
    if level is PoolLevel.COUNTY and member.branch_id in organized(actor):
        return True
    return covers(actor, member.region_code)


def may_decide_entry(actor: User, entry: PoolEntry) -> bool:
    """The admins of the pool's region (a city admin may stand in for a county)."""
    return covers(actor, entry.region_code)


def pool_entries_visible(actor: User) -> ColumnElement[bool]:
    return code_within(PoolEntry.region_code, admin_prefixes(actor))


def may_withdraw_entry(actor: User, entry: PoolEntry) -> bool:
    """Leaving a pool: the member themselves, or an admin who may decide for that pool."""
    return entry.member_id == actor.id or may_decide_entry(actor, entry)


def may_edit_taxonomy(actor: User) -> bool:
    """The skill taxonomy is the province's."""
    return is_province_admin(actor)


def may_import_rosters(actor: User) -> bool:
    return is_admin(actor)


def may_see_import(actor: User, job: ImportJob) -> bool:
    """An import's report names people: only whoever uploaded it."""
    return job.created_by_id == actor.id


def imports_visible(actor: User) -> ColumnElement[bool]:
    return ImportJob.created_by_id == actor.id


# --- tasks and who takes part ---------------------------------------------------------------------


def may_manage_task(actor: User, task: Task) -> bool:
    """The organizers of the task's organization and the admins whose region holds it."""
    return task.organization_id in organized(actor) or covers(actor, task.region_code)


def tasks_visible(actor: User) -> ColumnElement[bool]:
    clause = code_within(Task.region_code, admin_prefixes(actor))
    own = organized(actor)
    return or_(clause, Task.organization_id.in_(sorted(own))) if own else clause


def may_invite(actor: User, task: Task) -> bool:
    return may_manage_task(actor, task)


def may_confirm_hours(actor: User, task: Task) -> bool:
    return may_manage_task(actor, task)


def may_take_attendance(actor: User, task: Task) -> bool:
    """Showing a session's check-in code and checking members in by hand: whoever manages the task."""
    return may_manage_task(actor, task)


def may_check_in(actor: User, assignment: Assignment | None) -> bool:
    """A member checks in to the sessions of a task they have an accepted place on."""
    return (assignment is not None and assignment.member_id == actor.id
            and assignment.status is AssignmentStatus.ACCEPTED)


def may_decide_application(actor: User, assignment: Assignment) -> bool:
    return may_manage_task(actor, assignment.task)


def may_issue_certificate(actor: User, member: MemberProfile, org: Organization) -> bool:
    """A proof of service in an organization's name: the member asks for it themselves, or the
    organization's organizers or the admins of its region issue it."""
    return actor.id == member.id or org.id in organized(actor) or covers(actor, org.region_code)


def may_see_certificate(actor: User, member_id: int, org: Organization) -> bool:
    """The printable proof: its member, and whoever may issue in the organization's name."""
    return actor.id == member_id or org.id in organized(actor) or covers(actor, org.region_code)


def may_record_volunteer_history(actor: User, member: MemberProfile) -> bool:
    """Training and commendations in a member's volunteer record: the admins of the member's home
    and the organizers of their branch."""
    if member.status is MemberStatus.DELETED:
        return False
    return covers(actor, member.region_code) or (member.branch_id is not None and member.branch_id in organized(actor))


def may_export_volunteer_records(actor: User) -> bool:
    """Volunteer records in the national shape: organizers (their branches' members) and admins
    (their regions'); which members is members_visible's answer."""
    return holds(actor, Role.ORGANIZER) or is_admin(actor)


def may_see_task_as_member(actor: User, task: Task, assignment: Assignment | None) -> bool:
    """A member sees the tasks that are open, and those they have been part of."""
    return (assignment is not None and assignment.member_id == actor.id) or task.status is TaskStatus.OPEN


def may_apply(actor: User, task: Task) -> bool:
    """A member offers to take part in an open task."""
    return holds(actor, Role.MEMBER) and task.status is TaskStatus.OPEN


def may_answer(actor: User, assignment: Assignment) -> bool:
    """Only the member invited answers an invitation, while it is waiting for them."""
    return assignment.member_id == actor.id and assignment.status is AssignmentStatus.INVITED


def may_answer_for(actor: User, assignment: Assignment) -> bool:
    """A member who cannot sign in (registered by proxy, never claimed) answers an invitation on
    the phone; the organizers of the task and of the member's branch, and the admins whose region
    holds the task, record that answer, while the invitation waits."""
    member = assignment.member
    return (assignment.status is AssignmentStatus.INVITED and not member.user.can_log_in
            and (may_manage_task(actor, assignment.task) or (member.branch_id is not None
                                                              and member.branch_id in organized(actor))))


def answerable_for(actor: User) -> ColumnElement[bool]:
    """The SQL twin of may_answer_for (over Assignment joined to Task, MemberProfile and the
    member's User)."""
    own = sorted(organized(actor))
    by_task = or_(code_within(Task.region_code, admin_prefixes(actor)), Task.organization_id.in_(own or [-1]))
    return (Assignment.status == AssignmentStatus.INVITED) & (User.password_hash.is_(None) | ~User.active) & or_(
        by_task, MemberProfile.branch_id.in_(own or [-1]))


WITHDRAWABLE = (AssignmentStatus.APPLIED, AssignmentStatus.ACCEPTED, AssignmentStatus.WAITLISTED)


def may_withdraw(actor: User, assignment: Assignment) -> bool:
    """A member steps back from an application, the waitlist or an accepted place, while the task
    is still on (open or filled)."""
    return (assignment.member_id == actor.id and assignment.status in WITHDRAWABLE
            and assignment.task.status in (TaskStatus.OPEN, TaskStatus.FILLED))


# --- venues and bookings ----------------------------------------------------------------------------


def may_manage_venue(actor: User, venue: Venue) -> bool:
    """Its managers and the admins of its region run a venue."""
    return venue.id in managed_venues(actor) or covers(actor, venue.region_code)


def venues_managed(actor: User) -> ColumnElement[bool]:
    managed = managed_venues(actor)
    clause = code_within(Venue.region_code, admin_prefixes(actor))
    return or_(clause, Venue.id.in_(sorted(managed))) if managed else clause


def may_see_venue(actor: User, venue: Venue) -> bool:
    """Those who run it; and organizers see every active venue, since any branch may book any hall."""
    return may_manage_venue(actor, venue) or (holds(actor, Role.ORGANIZER) and venue.active)


def venues_visible(actor: User) -> ColumnElement[bool]:
    clause = venues_managed(actor)
    return or_(clause, Venue.active) if holds(actor, Role.ORGANIZER) else clause


def may_create_venue(actor: User) -> bool:
    return is_admin(actor)


def may_relocate_venue(actor: User, venue: Venue) -> bool:
    """Where a venue is and who operates it: the admins of its region, not its managers."""
    return covers(actor, venue.region_code)


def may_appoint_managers(actor: User, venue: Venue) -> bool:
    return covers(actor, venue.region_code)


def may_edit_package(actor: User, package: ActivityPackage | None, venue: Venue | None) -> bool:
    """A venue's own packages: those who run it. Packages every venue offers: the province."""
    target = package.venue if package is not None else venue
    return may_manage_venue(actor, target) if target is not None else is_province_admin(actor)


def may_book_venues(actor: User) -> bool:
    """Branch organizers book venues (for the organizations they organize)."""
    return holds(actor, Role.ORGANIZER)


def may_book(actor: User, venue: Venue) -> bool:
    return may_book_venues(actor) and venue.active


def booking_branches(booking: Booking) -> set[int]:
    """The lead branch and its co-hosts."""
    return {booking.organization_id} | {h.organization_id for h in booking.hosts}


def sees_booking(actor: User, booking: Booking) -> bool:
    """Its branches' organizers (lead or co-host), its venue's managers and the admins of the
    venue's region see a booking: its title, its branches and who booked it. Everyone else sees
    only that the time is taken (已被预约), in calendars and in conflicts alike."""
    return may_manage_venue(actor, booking.venue) or bool(booking_branches(booking) & organized(actor))


def bookings_visible(actor: User) -> ColumnElement[bool]:
    own = sorted(organized(actor))
    clauses = [Booking.venue_id.in_(select(Venue.id).where(venues_managed(actor)))]
    if own:
        clauses.append(Booking.organization_id.in_(own))
        clauses.append(Booking.id.in_(select(BookingHost.booking_id).where(BookingHost.organization_id.in_(own))))
    return or_(*clauses)


def may_decide_booking(actor: User, booking: Booking) -> bool:
    return may_manage_venue(actor, booking.venue)


def may_cancel_booking(actor: User, booking: Booking) -> bool:
    """The lead branch's organizers and the venue's people (co-hosts ask the lead branch)."""
    return booking.organization_id in organized(actor) or may_manage_venue(actor, booking.venue)


def may_take_booking_attendance(actor: User, booking: Booking) -> bool:
    """Showing a booking's check-in code and saying the branch has arrived: its branches'
    organizers (lead or co-host) and the venue's people."""
    return bool(booking_branches(booking) & organized(actor)) or may_manage_venue(actor, booking.venue)


def sees_booker_phone(actor: User, booking: Booking) -> bool:
    """The venue's people call the booker about a booking."""
    return may_manage_venue(actor, booking.venue)


# --- accounts and roles ------------------------------------------------------------------------------


def may_find_accounts(actor: User) -> bool:
    return is_admin(actor)


def grant_in_scope(actor: User, grant: RoleGrant) -> bool:
    """A grant's scope (a region, an organization or a venue) lies in the actor's regions."""
    if grant.region_code is not None:
        return covers(actor, grant.region_code)
    if grant.organization is not None:
        return covers(actor, grant.organization.region_code)
    if grant.venue is not None:
        return covers(actor, grant.venue.region_code)
    return False


def may_see_account(actor: User, user: User) -> bool:
    return any(grant_in_scope(actor, g) for g in user.grants)


def accounts_visible(actor: User) -> ColumnElement[bool]:
    """Accounts holding a grant inside the actor's regions (a region, an organization or venue there)."""
    prefixes = admin_prefixes(actor)
    if not prefixes:
        return false()
    org_in_scope = select(Organization.id).where(code_within(Organization.region_code, prefixes))
    venue_in_scope = select(Venue.id).where(code_within(Venue.region_code, prefixes))
    return exists().where(
        RoleGrant.user_id == User.id,
        or_(code_within(RoleGrant.region_code, prefixes), RoleGrant.organization_id.in_(org_in_scope),
            RoleGrant.venue_id.in_(venue_in_scope)))


def may_grant(actor: User, role: Role, region_code: str | None) -> bool:
    """Admins grant roles only inside their own region: admin of a region, organizer of an
    organization or manager of a venue there (region_code: the region, organization's or venue's)."""
    if role is Role.MEMBER:
        return is_admin(actor)
    return covers(actor, region_code)


def may_revoke(actor: User, grant: RoleGrant) -> bool:
    """Any role but member, inside the actor's regions, and never one's own admin role."""
    return (grant.role is not Role.MEMBER and grant_in_scope(actor, grant)
            and not (grant.user_id == actor.id and grant.role is Role.ADMIN))


def may_set_active(actor: User, user: User) -> bool:
    """Disabling or re-enabling an account: when every staff role it holds is in the actor's regions."""
    staff = [g for g in user.grants if g.role is not Role.MEMBER]
    return user.id != actor.id and bool(staff) and all(grant_in_scope(actor, g) for g in staff)


# --- one's own ---------------------------------------------------------------------------------------


def may_read_notification(actor: User, note: Notification) -> bool:
    return signed_in(actor) and note.user_id == actor.id


def notifications_visible(actor: User) -> ColumnElement[bool]:
    return Notification.user_id == actor.id if signed_in(actor) else false()


def everything(actor: User) -> ColumnElement[bool]:
    """For lists nobody is kept from (the skill taxonomy, regions)."""
    return true()
