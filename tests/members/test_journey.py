"""The member's registration journey as a newcomer meets it (issue 16): the pool as its own
question and one closing message, save-and-resume that keeps its word, and no finished-looking
empty profile."""

import re

from sqlalchemy import func, select

from app.members.models import EntryStatus, MemberProfile, PoolEntry, ProfileDraft
from tests.conftest import csrf_token
from tests.members.test_wizard import ANSWERS, answer


def draft_of(db, user):
    return db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == user.id))


def fill_all(client, skill_ids, *, pool="no"):
    for step, values in ANSWERS:
        assert answer(client, step, values).status_code == 302, step
    client.post("/profile/register/skills", data={"skill": str(skill_ids["课业辅导"]), "level": "3", "action": "next",
                                                  "csrf_token": csrf_token(client, "/profile/register/skills")})
    if pool:
        assert answer(client, "pool", {"join_pool": pool}).status_code == 302


def submit(client):
    return client.post("/profile/register/check", data={"csrf_token": csrf_token(client, "/profile/register/check")})


# --- 1. the end of registration says one thing ----------------------------------------------------


def test_the_pool_is_its_own_question_and_no_means_no_entry(client, db, login, create_user, skill_ids):
    user = create_user()
    login(user)
    fill_all(client, skill_ids, pool="no")
    check = client.get("/profile/register/check").get_data(as_text=True)
    assert "同时申请加入" not in check and "暂不加入" in check
    assert submit(client).headers["Location"].endswith("/profile/registered")
    done = client.get("/profile/registered").get_data(as_text=True)
    assert "登记完成" in done and "您选择了暂不加入银发人才库" in done and "看看附近的志愿服务" in done
    assert db.session.scalar(select(func.count()).select_from(PoolEntry).where(PoolEntry.member_id == user.id)) == 0


def test_the_pool_page_states_the_consequence_of_each_answer(client, login, create_user):
    login(create_user())
    html = client.get("/profile/register/pool").get_data(as_text=True)
    assert "<h1>要不要加入本县（市、区）银发人才库？</h1>" in html
    assert "15 个工作日内" in html and "暂不加入" in html and "照样会推荐" in html


def test_the_pool_question_must_be_answered_before_submitting(client, db, login, create_user, skill_ids):
    user = create_user()
    login(user)
    fill_all(client, skill_ids, pool=None)
    refused = submit(client)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "请回答是否加入本县（市、区）银发人才库" in html
    assert "/profile/register/pool?return=check" in html
    assert db.session.get(MemberProfile, user.id) is None and draft_of(db, user) is not None
    empty = answer(client, "pool", {})
    assert empty.status_code == 400 and "请选择加入或暂不加入" in empty.get_data(as_text=True)


def test_the_confirmation_names_the_review_and_how_long(client, db, login, create_user, skill_ids):
    user = create_user()
    login(user)
    fill_all(client, skill_ids, pool="yes")
    submit(client)
    done = client.get("/profile/registered").get_data(as_text=True)
    assert "入库申请已交给管城回族区老干部局" in done and "15 个工作日内审核完" in done
    assert "您还没有加入" not in done


def test_the_confirmation_page_needs_a_registration(client, login, create_user):
    login(create_user())
    assert client.get("/profile/registered").headers["Location"].endswith("/profile/register")


def test_leaving_the_pool_asks_first(client, db, login, create_member):
    from app.members import pool

    member = create_member()
    entry = pool.apply(actor=member.user, member=member)
    db.session.commit()
    login(member.user)
    profile = client.get("/profile").get_data(as_text=True)
    assert f'href="/profile/entries/{entry.id}/withdraw"' in profile      # a link to the question, not a button
    asked = client.get(f"/profile/entries/{entry.id}/withdraw").get_data(as_text=True)
    assert "确定要退出管城回族区县级人才库吗？" in asked and "不退出，返回" in asked
    db.session.refresh(entry)
    assert entry.status is EntryStatus.NOMINATED
    done = client.post(f"/profile/entries/{entry.id}/withdraw",
                       data={"csrf_token": csrf_token(client, f"/profile/entries/{entry.id}/withdraw")})
    assert done.status_code == 302
    db.session.refresh(entry)
    assert entry.status is EntryStatus.WITHDRAWN


def test_someone_elses_pool_entry_is_404(client, db, login, create_member):
    from app.members import pool

    other = create_member()
    entry = pool.apply(actor=other.user, member=other)
    db.session.commit()
    login(create_member().user)
    assert client.get(f"/profile/entries/{entry.id}/withdraw").status_code == 404


def test_deleting_a_skill_in_the_wizard_asks_first(client, db, login, create_user, skill_ids):
    user = create_user()
    login(user)
    client.post("/profile/register/skills", data={"skill": str(skill_ids["课业辅导"]), "level": "3", "action": "add",
                                                  "csrf_token": csrf_token(client, "/profile/register/skills")})
    asked = client.post("/profile/register/skills", data={"remove": "0",
                                                          "csrf_token": csrf_token(client, "/profile/register/skills")})
    assert asked.status_code == 200 and "确定要删除专长“课业辅导（精通）”吗？" in asked.get_data(as_text=True)
    assert '"skills": [{' in draft_of(db, user).data.replace("'", '"')
    client.post("/profile/register/skills", data={"remove": "0", "confirmed": "1",
                                                  "csrf_token": csrf_token(client, "/profile/register/skills")})
    db.session.expire_all()
    assert '"skills": []' in draft_of(db, user).data


# --- 2. save and resume that keep their word ------------------------------------------------------


def test_save_for_later_keeps_the_answer_on_the_page(client, db, login, create_user):
    user = create_user()
    login(user)
    answer(client, "gender", {"gender": "female"})
    response = answer(client, "birth_year", {"birth_year": "1954", "action": "later"})
    assert response.headers["Location"].endswith("/profile/register")
    assert '"birth_year": 1954' in draft_of(db, user).data
    start = client.get("/profile/register").get_data(as_text=True)
    assert "已保存这一页" in start


def test_save_for_later_with_a_wrong_answer_keeps_what_was_typed(client, db, login, create_user):
    user = create_user()
    login(user)
    refused = answer(client, "birth_year", {"birth_year": "52", "action": "later"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'value="52"' in html and "出生年份" in html
    assert draft_of(db, user) is None


def test_save_for_later_on_an_empty_page_saves_nothing_and_leaves(client, db, login, create_user):
    user = create_user()
    login(user)
    response = answer(client, "birth_year", {"birth_year": "", "action": "later"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/profile/register")
    assert draft_of(db, user) is None


def test_resuming_lands_on_the_first_unanswered_question(client, login, create_user):
    login(create_user())
    answer(client, "gender", {"gender": "male"})
    answer(client, "home", {"address": "郑州市管城回族区东大街12号"})      # birth year skipped
    start = client.get("/profile/register").get_data(as_text=True)
    resume = re.search(r'<a class="button primary" href="([^"]+)">继续填写</a>', start).group(1)
    assert resume == "/profile/register/birth_year"


def test_the_task_list_shows_what_is_done_and_what_is_left(client, login, create_user):
    login(create_user())
    answer(client, "gender", {"gender": "male"})
    answer(client, "birth_year", {"birth_year": "1950"})
    start = client.get("/profile/register").get_data(as_text=True)
    assert "填写进度" in start and "已填 2 项" in start and "姓名" not in start
    assert re.search(r"性别</a>\s*</span>\s*<strong class=\"tag\">已填", start)
    assert re.search(r"家庭住址</a>\s*</span>\s*<strong class=\"tag\">未填", start)
    answer(client, "consent", {})
    start = client.get("/profile/register").get_data(as_text=True)
    assert re.search(r"身体状况\s*</span>\s*<strong class=\"tag\">不用填", start)


def test_the_step_count_never_changes_with_consent(client, login, create_user):
    login(create_user())
    before = re.search(r"第 (\d+) 步，共 (\d+) 步", client.get("/profile/register/limits").get_data(as_text=True))
    answer(client, "consent", {"consent": "y"})
    after = re.search(r"第 (\d+) 步，共 (\d+) 步", client.get("/profile/register/limits").get_data(as_text=True))
    assert before.groups() == after.groups()
    capacity = re.search(r"第 (\d+) 步，共 (\d+) 步", client.get("/profile/register/capacity").get_data(as_text=True))
    assert capacity.group(2) == after.group(2) and int(capacity.group(1)) == int(after.group(1)) - 1


def test_answering_when_everything_is_done_resumes_at_the_check_page(client, login, create_user, skill_ids):
    login(create_user())
    fill_all(client, skill_ids, pool="yes")
    start = client.get("/profile/register").get_data(as_text=True)
    assert 'href="/profile/register/check">继续填写' in start and "都填好了" in start


# --- 3. no finished-looking empty profile --------------------------------------------------------


def test_the_check_page_lists_every_missing_item_at_once(client, login, create_user):
    login(create_user())
    answer(client, "home", {"address": "郑州市管城回族区东大街12号"})
    html = client.get("/profile/register/check").get_data(as_text=True)
    assert "还有 6 项没填" in html
    for label in ("性别", "出生年份", "是否加入银发人才库", "同意保存身体状况和住址位置", "方便的时间", "专长"):
        assert f"填写{label}</a>" in html, label
    assert "没有这些，就不会给您推荐志愿服务" in html


def test_submitting_without_what_registering_needs_is_refused_naming_all(client, db, login, create_user):
    user = create_user()
    login(user)
    answer(client, "home", {"address": "郑州市管城回族区东大街12号"})
    answer(client, "pool", {"join_pool": "no"})
    refused = submit(client)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "还有 2 项必须填写：性别、出生年份" in html
    assert db.session.get(MemberProfile, user.id) is None


def test_without_what_matching_needs_the_member_is_warned_everywhere(client, db, login, create_user):
    user = create_user()
    login(user)
    for step, values in [("gender", {"gender": "female"}), ("birth_year", {"birth_year": "1954"}),
                         ("home", {"address": "郑州市管城回族区东大街12号"}), ("pool", {"join_pool": "no"})]:
        answer(client, step, values)
    check = client.get("/profile/register/check").get_data(as_text=True)
    assert "还有 3 项没填" in check and "先登记，以后再补" in check
    assert submit(client).status_code == 302
    done = client.get("/profile/registered").get_data(as_text=True)
    assert "您的资料还缺 3 项，补上以后才会给您推荐志愿服务" in done and "看看附近的志愿服务" not in done
    assert 'href="/profile/edit/skills">补上专长' in done
    profile = client.get("/profile").get_data(as_text=True)
    assert "还有 3 项没填，补上以后才会给您推荐志愿服务" in profile


def test_a_complete_profile_shows_no_gaps(client, login, create_member):
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    assert "项没填" not in client.get("/profile").get_data(as_text=True)


def test_the_pool_question_is_not_a_profile_row(client, login, create_member):
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    assert client.get("/profile/edit/pool").status_code == 404


def test_the_confirmation_shows_the_first_fitting_tasks(client, login, create_user, create_task, skill_ids):
    from datetime import timedelta

    from app.clock import local_now

    now = local_now()
    tuesday = (now + timedelta(days=(1 - now.weekday()) % 7 + 7)).replace(hour=9, minute=0, second=0, microsecond=0)
    create_task(title="四点半课堂", skills={"课业辅导": 1}, when=tuesday)     # in the grid ANSWERS tick
    login(create_user())
    fill_all(client, skill_ids, pool="no")
    submit(client)
    done = client.get("/profile/registered").get_data(as_text=True)
    assert "现在附近就有适合您的服务" in done and "四点半课堂" in done and "看看全部志愿服务" in done


def test_signing_up_leads_straight_to_registering(client, db):
    data = {"name": "赵淑芬", "phone": "13912340001", "password": "外孙女小雨2019年",
            "password_confirm": "外孙女小雨2019年", "agree": "y", "csrf_token": csrf_token(client, "/register")}
    response = client.post("/register", data=data)
    assert response.headers["Location"].endswith("/profile/register")
