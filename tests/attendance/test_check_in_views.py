"""The check-in pages: the organizer's screen, the address the code holds, the one-tap page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.attendance.models import Attendance, CheckInMethod
from tests.attendance.conftest import SESSION_START
from tests.conftest import csrf_token

LINK = re.compile(r'href="(http://localhost/attend/s/\d+/[^"]+)"')


def _code_link(client, session) -> str:
    page = client.get(f"/attend/sessions/{session.id}/code")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<svg class="qr"' in html and f'data-live="/attend/s/{session.id}/live"' in html
    return LINK.search(html).group(1).removeprefix("http://localhost")


def _rows(db, session) -> list[Attendance]:
    return list(db.session.scalars(select(Attendance).where(Attendance.session_id == session.id)))


def test_a_member_scans_signs_in_and_taps_once(client, db, clock, login, on_session):
    task, session, [member] = on_session()
    clock.now = SESSION_START - timedelta(minutes=2)
    login(task.organizer)
    link = _code_link(client, session)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    scanned = client.get(link)                       # the phone's camera opens the link, signed out
    assert scanned.status_code == 302 and "/tap/" in scanned.headers["Location"]
    tap = scanned.headers["Location"]
    offer = client.get(tap).get_data(as_text=True)   # signed out: the two ways in
    assert "用短信验证码签到" in offer and "/login?next=" in offer
    assert "/login" in client.post(tap, data={"csrf_token": csrf_token(client, tap), "action": "in"}).headers["Location"]
    login(member.user)
    clock.now += timedelta(minutes=3)                # signing in took a while: the ticket still holds
    page = client.get(tap).get_data(as_text=True)
    assert "您还没有签到" in page
    r = client.post(tap, data={"csrf_token": csrf_token(client, tap), "action": "in"})
    assert r.status_code == 302
    assert "签到成功" in client.get(tap).get_data(as_text=True)
    again = client.post(tap, data={"csrf_token": csrf_token(client, tap), "action": "out"})   # a replay
    assert again.status_code == 302
    assert "已经用过" in client.get(tap).get_data(as_text=True)
    [row] = _rows(db, session)
    assert row.user_id == member.id and row.check_in_method is CheckInMethod.QR and row.checked_out_at is None


def test_an_expired_or_foreign_code_is_refused_with_a_page(client, db, clock, login, on_session):
    task, session, [member] = on_session()
    _, other, _ = on_session(n=0)
    clock.now = SESSION_START
    login(task.organizer)
    link = _code_link(client, session)
    clock.now += timedelta(seconds=61)
    r = client.get(link)
    assert r.status_code == 400 and "已过期" in r.get_data(as_text=True)
    foreign = link.replace(f"/s/{session.id}/", f"/s/{other.id}/")
    r = client.get(foreign)
    assert r.status_code == 400 and "不是这次活动" in r.get_data(as_text=True)
    assert client.get(f"/attend/x/{session.id}/abc").status_code == 404
    assert _rows(db, session) == []


def test_the_organizer_checks_a_member_in_by_hand_and_sees_the_list(client, db, clock, login, on_session, post):
    task, session, [member] = on_session()
    clock.now = SESSION_START + timedelta(minutes=1)
    login(task.organizer)
    page = f"/attend/sessions/{session.id}/code"
    r = post(f"/attend/sessions/{session.id}/by-hand/{member.id}", token_from=page)
    assert r.status_code == 302
    live = client.get(f"/attend/s/{session.id}/live")       # what the screen's script fetches
    html = live.get_data(as_text=True)
    assert live.status_code == 200 and "<html" not in html and '<svg class="qr"' in html
    assert "已签到（1 人）" in html and "组织者代签" in html and member.user.name in html
    [row] = _rows(db, session)
    assert row.check_in_method is CheckInMethod.MANUAL and row.recorded_by_id == task.organizer.id


def test_the_code_page_is_not_found_outside_ones_tasks(client, db, clock, login, on_session, create_org, create_user):
    _, session, [member] = on_session()
    other = create_user(name="别处书记", roles=[("organizer", create_org())])
    login(other)
    assert client.get(f"/attend/sessions/{session.id}/code").status_code == 404
    assert client.get(f"/attend/s/{session.id}/live").status_code == 404
    assert client.post(f"/attend/sessions/{session.id}/by-hand/{member.id}",
                       data={"csrf_token": csrf_token(client, "/")}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
