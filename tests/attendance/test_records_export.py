"""Volunteer records in the national shape: training and commendations recorded by staff, and the
.xlsx export with the five blocks and their fields, opened with openpyxl."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.errors import Invalid, PermissionDenied
from app.proofs import national
from app.proofs import services as proofs
from app.proofs.models import CommendationLevel, Training
from app.tasks import records
from app.tasks.models import Assignment
from tests.attendance.conftest import SESSION_START
from tests.conftest import csrf_token


@pytest.fixture
def seeded(db, clock, on_session, create_org, create_user, create_admin):
    """A member of a branch with confirmed and corrected hours, feedback, a training and a commendation."""
    task, session, [member] = on_session()
    branch = create_org(name="东关南里离退休干部党支部")
    member.branch_id = branch.id
    secretary = create_user(name="支部书记", roles=[("organizer", branch)])
    clock.now = SESSION_START + timedelta(hours=3)
    a = db.session.scalar(select(Assignment).where(Assignment.task_id == task.id))
    [record] = records.confirm_attendance(actor=task.organizer, session=session, entries={a.id: (True, 2.0, "讲解细致")})
    db.session.commit()
    records.correct_hours(actor=task.organizer, record=record, hours=2.5, reason="会后答疑", seen=2.0)
    proofs.record_training(actor=secretary, member=member, name="志愿服务通用培训", trained_on=date(2026, 3, 1),
                           hours=4, provider="金水区志愿者协会")
    proofs.record_commendation(actor=secretary, member=member, title="优秀志愿者", level=CommendationLevel.COUNTY,
                               awarded_by="金水区委老干部局", awarded_on=date(2025, 12, 5))
    db.session.commit()
    return task, member, branch, secretary, create_admin("410104")


def test_the_export_has_the_five_blocks_and_their_fields(client, db, login, seeded):
    task, member, branch, secretary, admin = seeded
    login(admin)
    r = client.post("/records/export", data={"csrf_token": csrf_token(client, "/records/"), "scope": "region",
                                              "key": "410104"})
    assert r.status_code == 302
    job_page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "下载文件" in job_page
    download = client.get(r.headers["Location"] + "/file")
    book = load_workbook(io.BytesIO(download.get_data()))
    download.close()
    assert book.sheetnames == list(national.SHEETS) + ["说明"]
    for title, header in national.SHEETS.items():
        assert [c.value for c in book[title][1]] == header, title

    def rows(title):
        sheet = book[title]
        header = [c.value for c in sheet[1]]
        return [dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)
                if row[0].value == member.user.name]

    [person] = rows("志愿者基本信息")
    assert person["证件类型"] == "居民身份证" and person["手机号码"] == member.user.phone      # the admin sees it whole
    assert person["所在党支部"] == branch.name and person["累计志愿服务时长（小时）"] == "2.5"
    [service] = rows("志愿服务记录")
    assert service["项目名称"] == task.title and service["服务时长（小时）"] == "2.5"
    assert service["服务开始时间"] == "2026-09-02 09:00" and service["记录单位"] == task.organization.name
    assert "会后答疑" in service["更正说明"]
    [training] = rows("培训记录")
    assert training["培训名称"] == "志愿服务通用培训" and training["培训单位"] == "金水区志愿者协会"
    [award] = rows("表彰奖励记录")
    assert award["表彰奖励名称"] == "优秀志愿者" and award["表彰奖励级别"] == "县级"
    [review] = rows("评价记录")
    assert review["评价内容"] == "讲解细致" and review["评价单位"] == task.organization.name


def test_an_organizer_exports_the_branch_with_masked_phones(db, seeded, tmp_path):
    task, member, branch, secretary, admin = seeded
    stmt = national.members_in(secretary, "branch", str(branch.id))
    path = tmp_path / "branch.xlsx"
    assert national.write_xlsx(secretary, stmt, path) == 1
    sheet = load_workbook(path)["志愿者基本信息"]
    assert "****" in sheet["F2"].value


def test_exports_outside_ones_scope_are_refused(db, seeded, create_org, create_user, create_admin, create_member):
    task, member, branch, secretary, admin = seeded
    with pytest.raises(Invalid, match="管辖地区"):
        national.request_export(actor=create_admin("411326"), scope="region", key="410104")
    with pytest.raises(Invalid, match="负责的支部"):
        national.request_export(actor=create_user(name="别处书记", roles=[("organizer", create_org())]),
                                scope="branch", key=str(branch.id))
    with pytest.raises(PermissionDenied):
        national.request_export(actor=create_member(name="普通老同志").user, scope="member", key=str(member.id))
    with pytest.raises(Invalid):
        national.request_export(actor=admin, scope="everything", key="1")


@pytest.mark.parametrize("change,message", [
    (dict(name=""), "培训名称"), (dict(hours=0), "培训时长"), (dict(trained_on=date(2099, 1, 1)), "晚于今天"),
    (dict(provider="x" * 101), "培训单位最多"),
])
def test_bad_training_is_refused_and_nothing_recorded(db, seeded, change, message):
    task, member, branch, secretary, admin = seeded
    args = dict(name="急救培训", trained_on=date(2026, 5, 1), hours=2.0, provider="红十字会") | change
    with pytest.raises(Invalid, match=message):
        proofs.record_training(actor=secretary, member=member, **args)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Training)) == 1


def test_staff_record_training_through_the_page_and_others_get_404(client, db, login, post, seeded, create_org,
                                                                   create_user):
    task, member, branch, secretary, admin = seeded
    login(secretary)
    page = f"/records/members/{member.id}"
    assert "志愿服务通用培训" in client.get(page).get_data(as_text=True)
    r = post(f"{page}/trainings", {"name": "", "trained_on": "2026-05-01", "hours": "2", "provider": "红十字会"},
             token_from=page)
    assert r.status_code == 400 and "请填写培训名称" in r.get_data(as_text=True)
    r = post(f"{page}/trainings", {"name": "急救培训", "trained_on": "2026-05-01", "hours": "2", "provider": "红十字会"},
             token_from=page)
    assert r.status_code == 302 and "急救培训" in client.get(page).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(create_user(name="别处书记", roles=[("organizer", create_org(county="411326"))]))
    assert client.get(page).status_code == 404
