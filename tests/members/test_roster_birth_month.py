"""The birth month a roster gives is kept (member_profiles.birth_month, migration 0018), and a row
without a phone is matched on name, birth month and county: held back for review when they agree,
imported as someone else when the months differ; the year alone decides when a side lacks the month."""

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db as _db
from app.members import importer
from app.members.models import MemberProfile
from tests.conftest import database_url_for, make_app, reset_database
from tests.members.test_import import counts
from tests.members.test_roster_files import bureau_workbook, import_file, member_named, person

SAME = "人才库里已有同名、同出生年份、同县的老同志，这一行没有导入，请核对后在人才库中修改"


def test_the_month_is_kept_when_the_file_gives_it(client, db, login, create_admin):
    login(create_admin("410104"))
    job = import_file(client, db, bureau_workbook([
        person(1, "张一", 出生年月="1950.03", 联系电话="13700137201"),
        person(2, "张二", 出生年月="1964年11月", 联系电话="13700137202"),
        person(3, "张三", 出生年月=1953, 联系电话="13700137203"),
        person(4, "张四", 出生年月="195207", 联系电话="13700137204")]))
    assert job.imported_rows == 4
    assert [(member_named(db, n).birth_year, member_named(db, n).birth_month) for n in ("张一", "张二", "张三", "张四")] == [
        (1950, 3), (1964, 11), (1953, None), (1952, 7)]


def test_a_row_without_a_phone_is_matched_on_name_birth_month_and_county(client, db, login, create_admin):
    login(create_admin("410104"))
    import_file(client, db, bureau_workbook([person(1, "周平", 出生年月="1952.06", 联系电话="13700137211"),
                                             person(2, "吴兰", 出生年月=1949, 联系电话="13700137212")]))
    before = counts(db)
    job = import_file(client, db, bureau_workbook([
        person(1, "周平", 出生年月="1952年6月", 联系电话=None),      # same month: held back
        person(2, "周平", 出生年月="1952.09", 联系电话=None),        # same year, another month: someone else
        person(3, "吴兰", 出生年月="1949.04", 联系电话=None)]))      # the member's month unknown: the year decides
    report = {r["row"]: r for r in importer.report(job)}
    assert (report[4]["action"], report[5]["action"], report[6]["action"]) == ("review", "create", "review")
    assert SAME in report[4]["notes"] and SAME in report[6]["notes"] and report[5]["errors"] == []
    assert (job.imported_rows, job.review_rows) == (1, 2) and counts(db)[1] == before[1] + 1
    born_september = [m for m in _members_named(db, "周平") if m.birth_month == 9]
    assert [(m.birth_year, m.region_code, m.user.phone) for m in born_september] == [(1952, "410104", None)]


def test_a_re_import_that_gives_the_month_updates_it(client, db, login, create_admin):
    login(create_admin("410104"))
    import_file(client, db, bureau_workbook([person(1, "郑明", 出生年月=1950, 联系电话="13700137221")]))
    assert member_named(db, "郑明").birth_month is None
    job = import_file(client, db, bureau_workbook([person(1, "郑明", 出生年月="1950.05", 联系电话="13700137221")]))
    assert (job.updated_rows, job.imported_rows) == (1, 0)
    assert "已在人才库中，将更新：出生月份" in importer.report(job)[0]["notes"]
    db.session.expire_all()
    assert (member_named(db, "郑明").birth_year, member_named(db, "郑明").birth_month) == (1950, 5)


def _members_named(db, name):
    return db.session.scalars(select(MemberProfile).join(User, User.id == MemberProfile.id).where(User.name == name)).all()


def test_0018_adds_the_birth_month_in_place_and_takes_it_away():
    url = database_url_for("mig18")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade(revision="0015_attendance")
        upgrade(revision="0018_birth_month")
        columns = {c["name"]: c for c in sa.inspect(_db.engine).get_columns("member_profiles")}
        assert columns["birth_month"]["nullable"] is True
        checks = {c["name"]: c["sqltext"] for c in sa.inspect(_db.engine).get_check_constraints("member_profiles")}
        assert "birth_month >= 1 AND birth_month <= 12" in checks["ck_member_profiles_birth_month_range"]
        downgrade(revision="0015_attendance")
        assert "birth_month" not in {c["name"] for c in sa.inspect(_db.engine).get_columns("member_profiles")}
        upgrade(revision="0018_birth_month")
        _db.engine.dispose()
