from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from app.accounts.models import User
from app.audit.models import AuditEvent
from app.errors import Conflict, Invalid, PermissionDenied
from app.members import services
from app.members.models import Capacity, ConsentMethod, LocationPrecision, MemberProfile, MemberStatus, SkillLocation
from app.members.services import PeriodInput, ProfileData, SkillInput
from app.organizations.models import OrganizationKind
from tests.conftest import export


def data(skill_ids, **overrides) -> ProfileData:
    values = dict(name="王建华", county_code="410104", address="郑州市管城回族区东大街12号", consent=True,
                  capacity=Capacity.MODERATE, skills=[SkillInput(skill_ids["法律咨询"], 3)], availability_mask=0b111)
    values.update(overrides)
    return ProfileData(**values)


def index_of(db, member_id):
    return db.session.execute(select(SkillLocation.skill_id, SkillLocation.level).where(
        SkillLocation.member_id == member_id)).all()


def test_a_member_registers_with_consent_and_lands_in_the_index(db, create_user, skill_ids):
    user = create_user(name="旧名字")
    member = services.register_member(actor=user, data=data(skill_ids))
    assert user.name == "王建华"
    assert member.has_consent and member.consent_method is ConsentMethod.ONLINE
    assert member.consent_version == services.CONSENT_VERSION
    assert index_of(db, member.id) == [(skill_ids["法律咨询"], 3)]
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_id == str(member.id))) == "member.register"


def test_without_consent_no_sensitive_field_is_kept_and_nothing_is_indexed(db, create_user, skill_ids):
    user = create_user()
    member = services.register_member(actor=user, data=data(skill_ids, consent=False, capacity=None))
    assert member.capacity is None and member.location_precision is LocationPrecision.COUNTY
    assert index_of(db, member.id) == []


def test_capacity_without_consent_is_refused(db, create_user, skill_ids):
    with pytest.raises(Invalid, match="敏感信息"):
        services.register_member(actor=create_user(), data=data(skill_ids, consent=False))


def test_the_database_refuses_sensitive_fields_without_consent(db, create_member):
    member = create_member(consent=False)
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.update(MemberProfile).where(MemberProfile.id == member.id).values(capacity="heavy"))


@pytest.mark.parametrize("overrides,message", [
    ({"county_code": "410100"}, "县（市、区）"),               # a city, not a county
    ({"county_code": "999999"}, "县（市、区）"),
    ({"birth_year": 2010}, "出生年份"),
    ({"birth_year": 1850}, "出生年份"),
    ({"radius_km": 0}, "服务范围"),
    ({"max_hours_week": 100}, "每周"),
    ({"skills": [SkillInput(999999, 2)]}, "专长"),
    ({"unavailable": [PeriodInput(date(2027, 3, 2), date(2027, 3, 1))]}, "结束日期"),
    ({"name": "  "}, "姓名"),
])
def test_rules_are_checked_by_the_service(db, create_user, skill_ids, overrides, message):
    user = create_user()
    with pytest.raises(Invalid, match=message):
        services.register_member(actor=user, data=data(skill_ids, **overrides))
    assert db.session.get(MemberProfile, user.id) is None or not db.session.new


def test_skill_rules(db, create_user, skill_ids):
    twice = [SkillInput(skill_ids["法律咨询"], 2), SkillInput(skill_ids["法律咨询"], 3)]
    with pytest.raises(Invalid, match="重复"):
        services.register_member(actor=create_user(), data=data(skill_ids, skills=twice))
    with pytest.raises(Invalid, match="掌握程度"):
        services.register_member(actor=create_user(), data=data(skill_ids, skills=[SkillInput(skill_ids["法律咨询"], 4)]))


def test_registering_twice_is_a_conflict(db, create_member):
    member = create_member()
    with pytest.raises(Conflict):
        services.register_member(actor=member.user, data=ProfileData.from_member(member))


def test_profile_data_survives_a_json_round_trip(db, create_member, skill_ids):
    member = create_member(skills={"法律咨询": 3, "普法宣传": 2}, birth_year=1950,
                           unavailable=[PeriodInput(date(2027, 1, 1), date(2027, 1, 5), "探亲")])
    original = ProfileData.from_member(member)
    assert ProfileData.from_json(original.to_json()) == original


def test_updating_a_profile_moves_the_index(db, create_member, skill_ids):
    member = create_member(skills={"法律咨询": 3})
    changed = ProfileData.from_member(member)
    changed.county_code, changed.address = "411326", "淅川县城关镇"
    changed.skills = [SkillInput(skill_ids["河道巡护"], 2)]
    services.update_profile(actor=member.user, member=member, data=changed)
    rows = db.session.execute(select(SkillLocation).where(SkillLocation.member_id == member.id)).scalars().all()
    assert [(r.skill_id, r.level) for r in rows] == [(skill_ids["河道巡护"], 2)]
    assert abs(rows[0].lat - 33.13) < 0.2  # 淅川


def test_withdrawing_consent_erases_the_sensitive_fields_and_the_index(db, create_member):
    member = create_member(skills={"法律咨询": 3}, capacity=Capacity.HEAVY)
    services.set_consent(actor=member.user, member=member, consent=False)
    assert member.capacity is None and member.consent_at is None
    assert member.location_precision is LocationPrecision.COUNTY
    assert index_of(db, member.id) == []


def test_only_the_member_changes_their_consent(db, create_member, create_admin):
    member = create_member()
    with pytest.raises(PermissionDenied):
        services.set_consent(actor=create_admin("410104"), member=member, consent=False)
    data_ = ProfileData.from_member(member)
    data_.consent = False
    with pytest.raises(PermissionDenied):
        services.update_profile(actor=create_admin("410104"), member=member, data=data_)


def test_pausing_takes_a_member_out_of_the_index(db, create_member):
    member = create_member(skills={"法律咨询": 3})
    services.set_paused(actor=member.user, member=member, paused=True)
    assert index_of(db, member.id) == []
    services.set_paused(actor=member.user, member=member, paused=False)
    assert len(index_of(db, member.id)) == 1


def test_retiring_a_skill_removes_it_from_the_index(db, create_member, create_admin, skill_ids):
    from app.members.models import Skill

    member = create_member(skills={"法律咨询": 3, "普法宣传": 2})
    skill = db.session.get(Skill, skill_ids["普法宣传"])
    services.update_skill(actor=create_admin("410000"), skill=skill, name=skill.name, description="", active=False)
    assert index_of(db, member.id) == [(skill_ids["法律咨询"], 3)]


def test_deleting_anonymises_and_keeps_nothing_personal(db, client, login, create_member, create_admin, skill_ids):
    member = create_member(name="赵秀英", phone="13911112222", skills={"法律咨询": 3}, birth_year=1950,
                           work_unit="某法院", address="郑州市管城回族区东大街12号")
    from app.members import pool

    entry = pool.apply(actor=member.user, member=member, reason="想为社区出力")
    services.delete_member(actor=member.user, member=member)
    db.session.commit()
    user = db.session.get(User, member.id)
    assert (user.name, user.phone, user.email, user.password_hash, user.active) == ("已注销用户", None, None, None, False)
    assert member.address == "" and member.work_unit == "" and member.birth_year is None
    assert member.skills == [] and index_of(db, member.id) == []
    assert entry.status.value == "withdrawn" and entry.reason == ""
    assert member.status is MemberStatus.DELETED
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "member.delete")) == 1
    # Gone from staff search and exports.
    login(create_admin("410104"))
    assert "赵秀英" not in client.get("/pool/").get_data(as_text=True)
    assert "赵秀英" not in export(client, "/pool/export.csv?full=1")
    assert client.get(f"/pool/members/{member.id}").status_code == 404


def test_only_the_member_deletes_their_data(db, create_member, create_admin):
    with pytest.raises(PermissionDenied):
        services.delete_member(actor=create_admin("410000"), member=create_member())


def test_proxy_registration_records_who_took_consent_and_how(db, create_user, create_org, skill_ids):
    branch = create_org(kind=OrganizationKind.PARTY_BRANCH)
    organizer = create_user(roles=[("organizer", branch)])
    member, code = services.proxy_register(actor=organizer, phone=None,
                                           data=data(skill_ids, branch_id=branch.id),
                                           consent_method=ConsentMethod.PAPER)
    assert member.consent_taken_by_id == organizer.id and member.consent_method is ConsentMethod.PAPER
    assert member.registered_by_id == organizer.id and member.user.password_hash is None
    assert member.user.phone is None and code.startswith(f"{member.id}-")


def test_proxy_registration_needs_a_consent_method(db, create_admin, skill_ids):
    with pytest.raises(Invalid, match="同意"):
        services.proxy_register(actor=create_admin("410104"), phone=None, data=data(skill_ids),
                                consent_method=ConsentMethod.ONLINE)


def test_members_cannot_register_others(db, create_user, skill_ids):
    with pytest.raises(PermissionDenied):
        services.proxy_register(actor=create_user(), phone=None, data=data(skill_ids, consent=False, capacity=None),
                                consent_method=None)


def test_a_proxy_registered_member_claims_the_account(db, create_admin, skill_ids):
    member, code = services.proxy_register(actor=create_admin("410104"), phone="13922223333",
                                           data=data(skill_ids), consent_method=ConsentMethod.SPOKEN)
    with pytest.raises(Invalid):
        services.claim_account(code=code, phone="13900000000", password="一句很长的好密码")  # someone else's phone
    with pytest.raises(Invalid):
        services.claim_account(code=code[:-1] + ("A" if code[-1] != "A" else "B"), phone="13922223333",
                               password="一句很长的好密码")
    user = services.claim_account(code=code.lower(), phone="139 2222 3333", password="一句很长的好密码")
    assert user.password_hash and member.claimed_at and member.claim_code_hash is None
    with pytest.raises(Invalid):  # used once only
        services.claim_account(code=code, phone="13922223333", password="一句很长的好密码")


def test_an_expired_claim_code_is_refused(db, create_admin, skill_ids):
    from app.db import utcnow

    member, code = services.proxy_register(actor=create_admin("410104"), phone=None, data=data(skill_ids),
                                           consent_method=ConsentMethod.PAPER)
    member.claim_code_expires_at = utcnow() - timedelta(minutes=1)
    with pytest.raises(Invalid, match="过期"):
        services.claim_account(code=code, phone="13944445555", password="一句很长的好密码")


def test_claiming_without_a_registered_phone_takes_the_given_one(db, create_admin, skill_ids, create_user):
    member, code = services.proxy_register(actor=create_admin("410104"), phone=None, data=data(skill_ids),
                                           consent_method=ConsentMethod.PAPER)
    taken = create_user()
    with pytest.raises(Conflict):
        services.claim_account(code=code, phone=taken.phone, password="一句很长的好密码")
    user = services.claim_account(code=code, phone="13955556666", password="一句很长的好密码")
    assert user.phone == "13955556666"


def test_export_holds_everything_about_the_member(db, create_member):
    member = create_member(name="钱老师", skills={"课业辅导": 3}, birth_year=1951)
    exported = services.export_member_data(member)
    assert exported["账号"]["姓名"] == "钱老师" and exported["基本信息"]["出生年份"] == 1951
    assert exported["专长"][0]["专长"] == "课业辅导" and exported["敏感信息"]["是否同意"] is True
