"""The wizard is shorter and plainer (issue 16 item 8): the heading asks the question once,
plain words for consent, radios for a short list of branches, shortcuts for the weekly grid and
no evenings for those who said evenings are hard, one way of saying distances, and no usable
password printed as an example."""

import json
import re

from sqlalchemy import select

from app.accounts.passwords import password_problem
from app.members.models import ProfileDraft, slot_bit
from app.organizations.models import OrganizationKind
from app.regions.geo import format_km
from tests.conftest import csrf_token
from tests.members.test_wizard import answer


def draft(db, user) -> dict:
    db.session.expire_all()
    row = db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == user.id))
    return json.loads(row.data)["profile"]


def test_the_question_is_asked_once_by_the_heading(client, login, create_user):
    login(create_user())
    html = client.get("/profile/register/birth_year").get_data(as_text=True)
    assert "<h1>哪一年出生？</h1>" in html
    assert '<label for="birth_year" class="visually-hidden">出生年份</label>' in html   # still there for screen readers
    gender = client.get("/profile/register/gender").get_data(as_text=True)
    assert '<legend class="visually-hidden">性别</legend>' in gender


def test_consent_is_asked_in_plain_words_without_the_form_version(client, login, create_user, create_admin):
    login(create_user())
    html = client.get("/profile/register/consent").get_data(as_text=True)
    assert "<h1>是否同意保存身体状况和住址位置？</h1>" in html
    assert "同意书版本" not in html and "<h1>是否同意保存敏感信息" not in html


def test_the_organizer_still_sees_the_consent_form_version(client, login, create_admin):
    login(create_admin("410104"))
    assert "同意书版本 2026-11" in client.get("/pool/proxy/consent").get_data(as_text=True)


def test_pages_where_nothing_may_apply_say_so(client, login, create_user, create_admin):
    login(create_user())
    assert "都没有就直接点“下一步”" in client.get("/profile/register/limits").get_data(as_text=True)
    assert client.get("/profile/register/unavailable").status_code == 404      # not asked when registering oneself
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("410104"))
    assert "都没有就直接点“下一步”" in client.get("/pool/proxy/unavailable").get_data(as_text=True)


def test_a_short_list_of_branches_is_radios(client, db, login, create_user, create_org):
    branch = create_org(name="东大街社区党支部", kind=OrganizationKind.PARTY_BRANCH)
    user = create_user()
    login(user)
    answer(client, "home", {"address": "郑州市管城回族区东大街12号"})
    html = client.get("/profile/register/branch").get_data(as_text=True)
    assert f'type="radio" name="branch" id="branch-1" value="{branch.id}"' in html and "<select" not in html
    assert "暂不选择（找不到我的支部）" in html
    assert answer(client, "branch", {"branch": str(branch.id)}).status_code == 302
    assert draft(db, user)["branch_id"] == branch.id
    refused = answer(client, "branch", {"branch": "999999"})
    assert refused.status_code == 400 and "请从列表中选择党支部" in refused.get_data(as_text=True)


def test_a_shortcut_fills_the_weekly_grid_in_one_tap(client, db, login, create_user):
    user = create_user()
    login(user)
    html = client.get("/profile/register/availability").get_data(as_text=True)
    assert "工作日上午都行" in html and "<th scope=\"col\">晚上</th>" in html
    response = answer(client, "availability", {"shortcut": "weekday_mornings"})
    assert response.headers["Location"].endswith("/profile/register/skills")
    assert draft(db, user)["availability_mask"] == sum(slot_bit(d, 0) for d in range(5))
    assert answer(client, "availability", {"shortcut": "whenever"}).status_code == 400


def test_evenings_are_not_asked_of_those_who_said_they_are_hard(client, db, login, create_user):
    user = create_user()
    login(user)
    answer(client, "limits", {"no_night": "y"})
    html = client.get("/profile/register/availability").get_data(as_text=True)
    assert "<th scope=\"col\">晚上</th>" not in html and "您说过晚上不方便" in html
    answer(client, "availability", {"d0p0": "y", "d0p2": "y"})       # an evening sent anyway is left out
    assert draft(db, user)["availability_mask"] == slot_bit(0, 0)


def test_distances_are_said_one_way():
    assert [format_km(km) for km in (0.0, 0.004, 0.344, 0.996, 1.0, 2.345)] == [
        "10 米", "10 米", "340 米", "1000 米", "1.0 公里", "2.3 公里"]


def test_no_usable_password_is_printed_as_an_example(client):
    html = client.get("/register").get_data(as_text=True)
    examples = re.findall(r"“([^”]+)”", html)
    assert all(password_problem(e) is not None for e in examples), examples
    assert "我家住在东大街3号" not in html and password_problem("我家住在东大街3号") is not None


def test_the_profile_edit_of_availability_uses_the_shortcuts_too(client, db, login, create_member):
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    response = client.post("/profile/edit/availability", data={"shortcut": "weekdays",
                                                                 "csrf_token": csrf_token(client, "/profile")})
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.availability_mask == sum(slot_bit(d, p) for d in range(5) for p in (0, 1))
