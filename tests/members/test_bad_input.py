"""Bad input on every pool form: long, empty, emoji and control characters give a form with errors,
never a 500, and change nothing."""

import pytest

from app.accounts.models import User
from app.members import pool
from app.members.models import (
    ImportJob,
    MemberProfile,
    PoolEntry,
    ProfileDraft,
    Skill,
    SkillCategory,
)
from tests.conftest import csrf_token
from tests.test_bad_input import BAD_VALUES, assert_refused_everywhere

# page: (fields, answers among BAD_VALUES that are legitimate there)
EMPTY = ("", "   ")
WIZARD = {
    "name": (["name"], ("NaN",)),
    "gender": (["gender"], ()),
    "birth_year": (["birth_year"], ()),
    "home": (["address"], ()),
    "branch": (["branch"], EMPTY),                       # "no branch yet" is an answer
    "work": (["work_unit", "post"], EMPTY + ("NaN", "1e999", "-Infinity", "' OR 1=1 --", "１３８ＡＢＣ",
                                          "<script>alert(1)</script>")),
    "limits": (["max_hours_week", "no_night"], EMPTY),
    "radius": (["radius_km"], ()),
    "unavailable": (["start", "end", "reason"], EMPTY),
    "skills": (["skill", "level", "years", "certificate", "certificate_expires"], EMPTY),
    "pool": (["join_pool"], ()),
}
LIST_STEPS = {"unavailable", "skills"}


PROXY_ONLY = {"name", "unavailable"}    # self-registration takes the account's name, and asks no dates


@pytest.mark.parametrize("step", list(WIZARD))
def test_every_wizard_page_refuses_bad_input(client, db, login, create_user, create_admin, step):
    login(create_admin("410104") if step in PROXY_ONLY else create_user())
    path = f"/pool/proxy/{step}" if step in PROXY_ONLY else f"/profile/register/{step}"
    fields, valid = WIZARD[step]
    extra = {"action": "add"} if step in LIST_STEPS else None
    tables = [ProfileDraft] if not valid else [MemberProfile]
    assert_refused_everywhere(client, db, path, fields, tables, path, valid=valid, extra=extra)


@pytest.mark.parametrize("step", ["name", "birth_year", "home", "work", "limits"])
def test_every_profile_edit_page_refuses_bad_input(client, db, login, create_member, step):
    member = create_member()
    login(member.user)
    path = f"/profile/edit/{step}"
    fields, valid = WIZARD[step]

    def state():
        db.session.expire_all()
        m = db.session.get(MemberProfile, member.id)
        return (m.user.name, m.birth_year, m.address, m.region_code, m.work_unit, m.post, m.max_hours_week,
                m.no_night)

    before = state()
    for value in BAD_VALUES:
        if value in valid:
            continue
        response = client.post(path, data={**{f: value for f in fields}, "csrf_token": csrf_token(client, path)})
        assert response.status_code == 400 and "error-summary" in response.get_data(as_text=True), value[:20]
        assert state() == before, value[:20]


def test_claim_refuses_bad_input(client, db):
    assert_refused_everywhere(client, db, "/claim", ["code", "phone", "password", "password_confirm"], [User],
                              "/claim", statuses=(400, 409, 429))


def test_staff_forms_refuse_bad_input(client, db, login, create_admin, create_member):
    member, candidate = create_member(), create_member()
    entry = pool.apply(actor=member.user, member=member)
    db.session.commit()
    login(create_admin("410000"))
    tables = [PoolEntry, Skill, SkillCategory, ImportJob]
    assert_refused_everywhere(client, db, f"/pool/members/{candidate.id}/nominate", ["level", "reason"], tables,
                              f"/pool/members/{candidate.id}")
    assert_refused_everywhere(client, db, f"/pool/entries/{entry.id}/decide", ["decision", "note"], tables,
                              "/pool/queue")
    assert_refused_everywhere(client, db, "/pool/skills", ["c-name"], tables, "/pool/skills",
                              valid=("NaN", "1e999", "-Infinity", "' OR 1=1 --", "１３８ＡＢＣ",
                                     "<script>alert(1)</script>"))
    assert_refused_everywhere(client, db, "/pool/skills", ["s-category", "s-name", "s-description"], tables,
                              "/pool/skills")
    assert_refused_everywhere(client, db, "/pool/import", ["mode", "file"], tables, "/pool/import")
    assert entry.status.value == "nominated"


def test_delete_refuses_without_confirmation(client, db, login, create_member):
    member = create_member()
    login(member.user)
    assert_refused_everywhere(client, db, "/profile/delete", ["understood_missing"], [MemberProfile], "/profile/delete")
    db.session.refresh(member)
    assert member.status.value == "active"
