"""The registration wizard through its pages: one question each, saved at every step."""

import pytest
from sqlalchemy import select

from app.members.models import MemberProfile, PoolEntry, ProfileDraft
from tests.conftest import PASSWORD, csrf_token

ANSWERS = [   # self-registration: the name comes from the account
    ("gender", {"gender": "male"}),
    ("birth_year", {"birth_year": "1952"}),
    ("home", {"address": "郑州市管城回族区东大街12号"}),
    ("branch", {"branch": ""}),
    ("work", {"work_unit": "郑州市某中学", "post": "校长"}),
    ("consent", {"consent": "y"}),
    ("capacity", {"capacity": "moderate"}),
    ("limits", {"no_night": "y", "max_hours_week": "6"}),
    ("radius", {"radius_km": "5"}),
    ("availability", {"d1p0": "y", "d3p1": "y"}),
]
# Asked by proxy (and changed from the profile), not in self-registration.
UNAVAILABLE = ("unavailable", {"start": "2099-01-10", "end": "2099-01-20", "reason": "探亲", "action": "next"})


def answer(client, step, values):
    return client.post(f"/profile/register/{step}", data={**values, "csrf_token": csrf_token(client, f"/profile/register/{step}")})


def test_the_wizard_asks_one_question_per_page_and_registers(client, db, login, create_user, skill_ids):
    user = create_user(name="王建华")
    login(user)
    for step, values in ANSWERS:
        response = answer(client, step, values)
        assert response.status_code == 302, (step, response.get_data(as_text=True)[-2000:])
    response = client.post("/profile/register/skills", data={
        "skill": str(skill_ids["课业辅导"]), "level": "3", "certificate": "高级教师证", "action": "add",
        "csrf_token": csrf_token(client, "/profile/register/skills")})
    assert response.headers["Location"].endswith("/profile/register/skills")
    response = client.post("/profile/register/skills", data={"action": "next", "csrf_token": csrf_token(client, "/profile/register/skills")})
    assert response.headers["Location"].endswith("/profile/register/pool")
    response = answer(client, "pool", {"join_pool": "yes"})
    assert response.headers["Location"].endswith("/profile/register/check")
    check = client.get("/profile/register/check").get_data(as_text=True)
    for text in ("王建华", "1952 年", "管城回族区", "课业辅导（精通）", "周二上午", "6 小时", "更改", "申请加入"):
        assert text in check, text
    assert "项没填" not in check
    response = client.post("/profile/register/check", data={"csrf_token": csrf_token(client, "/profile/register/check")})
    assert response.headers["Location"].endswith("/profile/registered")
    done = client.get("/profile/registered").get_data(as_text=True)
    assert "登记完成" in done and "个工作日内审核" in done and "看看附近的志愿服务" in done
    assert "您还没有加入" not in done
    member = db.session.get(MemberProfile, user.id)
    assert member.region_code == "410104" and member.birth_year == 1952 and member.max_hours_week == 6
    assert member.skills[0].certificate == "高级教师证"
    assert db.session.scalar(select(PoolEntry.level).where(PoolEntry.member_id == user.id)).value == "county"
    assert db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == user.id)) is None


def test_answers_survive_the_session_ending(app, client, db, login, create_user):
    user = create_user()
    login(user)
    answer(client, "gender", {"gender": "male"})
    answer(client, "birth_year", {"birth_year": "1950"})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    other_device = app.test_client()
    other_device.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": csrf_token(other_device)})
    assert "继续填写" in other_device.get("/profile/register").get_data(as_text=True)
    assert 'value="1950"' in other_device.get("/profile/register/birth_year").get_data(as_text=True)


def test_a_wrong_answer_keeps_what_was_typed_and_saves_nothing(client, db, login, create_user):
    user = create_user()
    login(user)
    response = answer(client, "home", {"address": "东大街12号"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "没有认出是哪个县" in html and 'value="东大街12号"' in html
    assert "<title>错误：" in html
    assert db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == user.id)) is None


def test_without_consent_the_capacity_page_is_skipped(client, db, login, create_user):
    login(create_user())
    response = answer(client, "consent", {})
    assert response.headers["Location"].endswith("/profile/register/limits")
    assert client.get("/profile/register/capacity").status_code == 404


def test_changing_an_answer_from_the_check_page_returns_there(client, login, create_user):
    login(create_user())
    response = client.post("/profile/register/gender?return=check",
                           data={"gender": "female", "csrf_token": csrf_token(client, "/profile/register/gender")})
    assert response.headers["Location"].endswith("/profile/register/check")


def test_an_unknown_step_is_404(client, login, create_user):
    login(create_user())
    assert client.get("/profile/register/nonsense").status_code == 404
    assert client.get("/profile/register/phone").status_code == 404  # proxy only
    assert client.get("/profile/register/name").status_code == 404   # the account has it


def test_editing_one_answer_of_a_profile(client, db, login, create_member):
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    response = client.post("/profile/edit/radius", data={"radius_km": "20", "csrf_token": csrf_token(client, "/profile")})
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.service_radius_km == 20
    asked = client.post("/profile/edit/skills", data={"remove": "0", "csrf_token": csrf_token(client, "/profile")})
    assert asked.status_code == 200 and "确定要删除专长“法律咨询（精通）”吗？" in asked.get_data(as_text=True)
    db.session.refresh(member)
    assert len(member.skills) == 1          # asked first: nothing deleted yet
    remove = client.post("/profile/edit/skills", data={"remove": "0", "confirmed": "1",
                                                       "csrf_token": csrf_token(client, "/profile")})
    assert remove.status_code == 302
    db.session.refresh(member)
    assert member.skills == []


def test_withdrawing_consent_from_the_profile(client, db, login, create_member):
    member = create_member()
    login(member.user)
    client.post("/profile/edit/consent", data={"csrf_token": csrf_token(client, "/profile")})
    db.session.refresh(member)
    assert member.consent_at is None and member.capacity is None


def test_my_data_downloads(client, db, login, create_member):
    member = create_member(name="吴阿姨", skills={"书法绘画": 3})
    login(member.user)
    as_json = client.get("/profile/data.json")
    assert as_json.status_code == 200 and as_json.get_json()["账号"]["姓名"] == "吴阿姨"
    as_csv = client.get("/profile/data.csv")
    text = as_csv.get_data(as_text=True)
    assert text.startswith("\ufeff分类,项目,内容") and "书法绘画" in text
    assert "attachment" in as_csv.headers["Content-Disposition"]


def test_deleting_through_the_page_needs_the_confirmation(client, db, login, create_member):
    member = create_member(name="郑大爷")
    login(member.user)
    refused = client.post("/profile/delete", data={"csrf_token": csrf_token(client, "/profile/delete")})
    assert refused.status_code == 400 and "请确认" in refused.get_data(as_text=True)
    done = client.post("/profile/delete", data={"understood": "y", "csrf_token": csrf_token(client, "/profile/delete")})
    assert done.status_code == 302
    db.session.refresh(member)
    assert member.status.value == "deleted" and member.user.name == "已注销用户"
    assert client.get("/profile").status_code == 302  # signed out


def test_proxy_wizard_then_claim(app, client, db, login, create_admin, skill_ids):
    login(create_admin("410104"))
    steps = [("phone", {"phone": "139 8888 7777"}), ("name", {"name": "王建华"})] + ANSWERS[:5] + [
        ("consent", {"consent": "y", "consent_method": "paper"})] + ANSWERS[6:] + [UNAVAILABLE]
    for step, values in steps:
        response = client.post(f"/pool/proxy/{step}", data={**values, "csrf_token": csrf_token(client, f"/pool/proxy/{step}")})
        assert response.status_code == 302, (step, response.get_data(as_text=True)[-1500:])
    client.post("/pool/proxy/skills", data={"skill": str(skill_ids["法律咨询"]), "level": "2", "action": "next",
                                            "csrf_token": csrf_token(client, "/pool/proxy/skills")})
    client.post("/pool/proxy/pool", data={"join_pool": "no", "csrf_token": csrf_token(client, "/pool/proxy/pool")})
    slip = client.post("/pool/proxy/check", data={"csrf_token": csrf_token(client, "/pool/proxy/check")})
    html = slip.get_data(as_text=True)
    assert slip.status_code == 200 and "认领码" in html
    import re

    code = re.search(r"认领码：<strong>([0-9A-Z-]+)</strong>", html).group(1)
    member = db.session.scalar(select(MemberProfile).order_by(MemberProfile.id.desc()))
    assert member.consent_method.value == "paper" and member.user.password_hash is None

    owner = app.test_client()
    bad = owner.post("/claim", data={"code": code, "phone": "13900000000", "password": "我家住在东大街12号",
                                     "password_confirm": "我家住在东大街12号", "csrf_token": csrf_token(owner, "/claim")})
    assert bad.status_code == 400
    ok = owner.post("/claim", data={"code": code, "phone": "13988887777", "password": "我家住在东大街12号",
                                    "password_confirm": "我家住在东大街12号", "csrf_token": csrf_token(owner, "/claim")})
    assert ok.status_code == 302
    assert owner.get("/profile").status_code == 200


def test_claim_attempts_are_rate_limited(client, db):
    statuses = [client.post("/claim", data={"code": "1-AAAA-BBBB", "phone": "13900000000", "password": "我家住在东大街12号",
                                            "password_confirm": "我家住在东大街12号",
                                            "csrf_token": csrf_token(client, "/claim")}).status_code for _ in range(7)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429


def test_a_wizard_page_without_fill_or_apply_is_refused_when_defined():
    from app.members.forms import WizardForm

    with pytest.raises(TypeError, match="must define apply"):
        class OnlyShows(WizardForm):
            def fill(self, data, meta):
                pass
