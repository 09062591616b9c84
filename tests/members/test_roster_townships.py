"""现居住地 written with a township: the township places the home in its county on every path (the
gazetteer, the web import, the command line, the registration form's rule), a township name that
several counties share is never guessed, and a name from outside Henan is not taken for a place
in it unless the text names what contains it."""

import json

from sqlalchemy import select

from app.members import importer
from app.members.models import ProfileDraft
from app.regions import gazetteer
from tests.members.test_import import counts
from tests.members.test_roster_files import bureau_workbook, import_file, member_named, person, roster_import
from tests.members.test_wizard import answer

AMBIGUOUS = ("“建设路街道”在中原区（郑州市）、卫东区（平顶山市）、华龙区（濮阳市）、长葛市（许昌市）都有，"
             "不能确定是哪个县（市、区），请写明县（市、区）")


# --- the gazetteer --------------------------------------------------------------------------------


def test_a_township_inside_a_named_county_keeps_that_county():
    found = gazetteer.resolve("郑州市金水区文化路街道农业路12号", within="41")
    assert (found.place.code, found.place.name, found.place.level) == ("410105", "金水区", "county")
    assert (found.township, found.counties, found.ambiguous) == ("", (), False)


def test_a_township_under_its_county_level_city_is_placed_there():
    found = gazetteer.resolve("登封市大金店镇王庄村3组", within="41")
    assert (found.place.code, found.place.name) == ("410185", "登封市")


def test_a_bare_township_unique_in_the_province_resolves_to_its_county():
    found = gazetteer.resolve("大金店镇王庄村3组", within="41")
    assert (found.place.code, found.place.name, found.place.level) == ("410185", "登封市", "county")
    assert gazetteer.locate("大金店镇王庄村3组", within="41").code == "410185"


def test_a_township_name_shared_by_counties_is_not_guessed_and_says_which():
    found = gazetteer.resolve("建设路街道12号院", within="41")
    assert found.place is None and found.ambiguous and found.township == "建设路街道"
    assert [c.code for c in found.counties] == ["410102", "410403", "410902", "411082"]
    assert found.reason() == AMBIGUOUS
    assert gazetteer.locate("建设路街道12号院", within="41") is None


def test_a_named_city_settles_a_shared_township_name():
    found = gazetteer.resolve("郑州市建设路街道12号院", within="41")
    assert (found.place.code, found.place.name) == ("410102", "中原区") and not found.ambiguous


def test_a_very_common_township_name_lists_four_counties_and_the_count():
    found = gazetteer.resolve("城关镇建设路8号", within="41")
    assert found.place is None and len(found.counties) == 23
    assert found.reason() == ("“城关镇”在新密市（郑州市）、孟津区（洛阳市）、嵩县（洛阳市）、汝阳县（洛阳市）等 23 个县（市、区）"
                              "都有，不能确定是哪个县（市、区），请写明县（市、区）")


def test_a_name_from_another_province_is_not_taken_for_a_street_of_henan():
    assert gazetteer.locate("朝阳路12号", within="41") is None            # was 朝阳县 of Liaoning
    assert gazetteer.locate("北京市朝阳区建设路", within="41").code == "110105"    # named with its city
    assert gazetteer.locate("南京市玄武区中山路", within="41").code == "320102"
    assert gazetteer.locate("河南省朝阳区", within="41").code == "410000"


def test_the_vendored_townships_are_henans_with_their_counties():
    names = gazetteer.townships()
    every = [t for ts in names.values() for t in ts]
    assert len(every) == 2493 and all(t.code.startswith("41") and len(t.code) == 9 for t in every)
    assert all(gazetteer.place(t.parent_code).level == "county" for t in every)
    assert [(t.code, t.parent_code, t.level, t.coord_source) for t in names["大金店镇"]] == [
        ("410185100", "410185", "township", "parent")]
    assert "农场" not in names                 # too common a word to be read as a place


# --- the web import -----------------------------------------------------------------------------


def test_the_web_import_places_townships_and_holds_back_a_shared_name(client, db, login, create_admin):
    login(create_admin("410100"))
    before = counts(db)
    people = [person(1, "文化人", 联系电话="13700137101", 现居住地="郑州市金水区文化路街道农业路12号"),
              person(2, "登封人", 联系电话="13700137102", 现居住地="登封市大金店镇王庄村3组"),
              person(3, "金店人", 联系电话="13700137103", 现居住地="大金店镇王庄村5组"),
              person(4, "建设人", 联系电话="13700137104", 现居住地="建设路街道12号院")]
    job = import_file(client, db, bureau_workbook(people))
    assert job.status == "done", job.message
    assert (job.imported_rows, job.error_rows) == (3, 1)
    assert counts(db)[1] == before[1] + 3
    assert (member_named(db, "文化人").region_code, member_named(db, "文化人").address) == (
        "410105", "郑州市金水区文化路街道农业路12号")
    assert (member_named(db, "登封人").region_code, member_named(db, "登封人").address) == ("410185", "登封市大金店镇王庄村3组")
    assert (member_named(db, "金店人").region_code, member_named(db, "金店人").address) == ("410185", "大金店镇王庄村5组")
    assert member_named(db, "建设人") is None
    report = {r["row"]: r for r in importer.report(job)}
    assert report[7]["action"] == "refuse" and report[7]["errors"] == ["家庭住址里的" + AMBIGUOUS]
    assert [report[n]["action"] for n in (4, 5, 6)] == ["create", "create", "create"]


def test_a_township_outside_the_admins_region_is_refused(client, db, login, create_admin):
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, bureau_workbook([
        person(1, "东大人", 联系电话="13700137111", 现居住地="管城回族区东大街12号"),
        person(2, "登封人", 联系电话="13700137112", 现居住地="大金店镇王庄村3组")]))
    assert (job.imported_rows, job.error_rows) == (1, 1) and counts(db)[1] == before[1] + 1
    report = {r["row"]: r for r in importer.report(job)}
    assert report[5]["errors"] == ["登封市不在您管辖的地区内"]


# --- the command line ---------------------------------------------------------------------------


def test_the_command_settles_a_shared_township_by_the_county_loaded(app, db, tmp_path, create_admin):
    admin = create_admin("410100")
    people = [person(1, "建设人", 联系电话="13700137121", 现居住地="建设路街道12号院"),
              person(2, "登封人", 联系电话="13700137122", 现居住地="大金店镇王庄村3组")]
    result = roster_import(app, tmp_path, bureau_workbook(people), "--county", "410102", "--as", admin.phone,
                           name="中原名册.xlsx")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "imported 1, updated 0, unchanged 0, refused 1"
    assert any("第 5 行 登封人：不导入：家庭住址在登封市，不在这次导入的中原区" in line for line in lines)
    assert member_named(db, "建设人").region_code == "410102"
    assert member_named(db, "登封人") is None


# --- the registration form ----------------------------------------------------------------------


def test_the_registration_form_places_a_township_and_names_a_shared_one(client, db, login, create_user):
    login(create_user())
    shared = answer(client, "home", {"address": "建设路街道12号院"})
    html = shared.get_data(as_text=True)
    assert shared.status_code == 400 and AMBIGUOUS in html and 'value="建设路街道12号院"' in html
    placed = answer(client, "home", {"address": "大金店镇王庄村3组"})
    assert placed.status_code == 302
    data = json.loads(db.session.scalar(select(ProfileDraft.data)))
    assert (data["profile"]["county_code"], data["profile"]["address"]) == ("410185", "大金店镇王庄村3组")
