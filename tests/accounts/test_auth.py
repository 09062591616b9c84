from sqlalchemy import func, select

from app.accounts.models import Role, User, UserSession
from tests.conftest import PASSWORD, csrf_token

COOKIE = "yinhui_session"


def count_users(db):
    return db.session.scalar(select(func.count()).select_from(User))


def register(post, **overrides):
    data = {"name": "张建国", "phone": "13912345678", "password": "老伴李秀英1958年",
            "password_confirm": "老伴李秀英1958年", "agree": "y", **overrides}
    return post("/register", data, token_from="/register")


def test_registration_creates_a_member_and_signs_in(client, db, post):
    response = register(post, phone="１３９ １２３４ ５６７８")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.phone == "13912345678"))
    assert user.name == "张建国" and user.has_role(Role.MEMBER)
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/account").status_code == 200


def test_registration_with_a_taken_phone_is_a_conflict_and_adds_nobody(client, db, post, create_user):
    create_user(phone="13912345678")
    before = count_users(db)
    response = register(post)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "这个手机号已经注册过了" in html and "<title>错误：" in html
    assert "用短信验证码重新设置" in html and "联系所在支部" not in html     # the way back in that exists
    assert count_users(db) == before


def test_registration_refuses_bad_input_and_keeps_what_was_typed(client, db, post):
    before = count_users(db)
    response = register(post, name="张建国", phone="1391234567", password="12345678",
                        password_confirm="87654321", agree="")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请输入正确的 11 位手机号码" in html
    assert "两次输入的密码不一样" in html
    assert "请阅读并同意" in html
    assert 'value="张建国"' in html and 'value="1391234567"' in html
    assert 'href="#phone"' in html  # the summary links to the field
    assert "87654321" not in html  # passwords are never echoed back
    assert count_users(db) == before


def test_common_password_is_refused_at_registration(client, db, post):
    response = register(post, password="woaini1314", password_confirm="woaini1314")
    assert response.status_code == 400
    assert "这个密码太常见" in response.get_data(as_text=True)


def test_login_renews_the_session_id(client, create_user):
    user = create_user()
    csrf_token(client)  # an anonymous session exists now
    before = client.get_cookie(COOKIE).value
    client.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                "csrf_token": csrf_token(client)})
    after = client.get_cookie(COOKIE).value
    assert before != after
    assert client.get("/account").status_code == 200


def test_login_accepts_a_full_width_phone_number(client, create_user):
    create_user(phone="13812345678")
    response = client.post("/login", data={"phone": "１３８ １２３４ ５６７８", "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, create_user):
    user = create_user()
    response = client.post("/login", data={"phone": user.phone, "password": "wrong-password",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "手机号或密码不正确" in response.get_data(as_text=True)
    unknown = client.post("/login", data={"phone": "13700000000", "password": "wrong-password",
                                          "csrf_token": csrf_token(client)})
    assert "手机号或密码不正确" in unknown.get_data(as_text=True)


def test_ten_wrong_passwords_meet_a_friendly_429(client, create_user):
    user = create_user()
    statuses = []
    for _ in range(10):
        response = client.post("/login", data={"phone": user.phone, "password": "wrong-password",
                                               "csrf_token": csrf_token(client)})
        statuses.append(response.status_code)
    assert statuses[:5] == [400] * 5
    assert statuses[5:] == [429] * 5
    html = response.get_data(as_text=True)
    assert "分钟后再试" in html and "操作太频繁" in html
    # From this address even the right password waits (the limit is per number and address, and
    # temporary); from elsewhere the owner signs in (tests/accounts/test_lockout.py).
    right = client.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                        "csrf_token": csrf_token(client)})
    assert right.status_code == 429


def test_the_ip_limit_catches_guessing_across_many_accounts(app, client, create_user):
    users = [create_user() for _ in range(8)]
    statuses = []
    for i in range(31):
        user = users[i % len(users)]
        statuses.append(client.post("/login", data={"phone": user.phone, "password": f"wrong-{i}",
                                                    "csrf_token": csrf_token(client)}).status_code)
    assert statuses[:30] == [400] * 30  # no account reached its own limit of 5
    assert statuses[30] == 429


def test_successful_logins_do_not_count_against_the_limit(client, create_user):
    user = create_user()
    for _ in range(7):
        client.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                    "csrf_token": csrf_token(client)})
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def test_logout_ends_the_session_on_the_server(client, db, login, create_user):
    user = create_user()
    login(user)
    stolen = client.get_cookie(COOKIE).value
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    client.set_cookie(COOKIE, stolen)
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(UserSession)
                             .where(UserSession.user_id == user.id)) == 0


def test_disabling_a_user_ends_their_sessions(app, client, db, login, create_user, create_admin, create_org):
    org = create_org(county="410104")
    organizer = create_user(roles=[("organizer", org)])
    login(organizer)
    assert client.get("/account").status_code == 200
    admin_client = app.test_client()
    admin = create_admin("410104")
    admin_client.post("/login", data={"phone": admin.phone, "password": PASSWORD,
                                      "csrf_token": csrf_token(admin_client)})
    response = admin_client.post(f"/admin/users/{organizer.id}/active",
                                 data={"active": "0", "csrf_token": csrf_token(admin_client, "/account")})
    assert response.status_code == 302
    assert client.get("/account").status_code == 302
    relogin = client.post("/login", data={"phone": organizer.phone, "password": PASSWORD,
                                          "csrf_token": csrf_token(client)})
    assert relogin.status_code == 400


def test_password_change_needs_the_old_password(client, db, login, create_user):
    user = create_user()
    login(user)
    old_hash = user.password_hash
    response = client.post("/account/password", data={
        "old_password": "not-my-password", "new_password": "新的密码好记又长",
        "new_password_confirm": "新的密码好记又长", "csrf_token": csrf_token(client, "/account/password")})
    assert response.status_code == 400
    assert "原密码不正确" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_password_change_ends_the_other_sessions(app, client, db, login, create_user):
    user = create_user()
    other_device = app.test_client()
    other_device.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                      "csrf_token": csrf_token(other_device)})
    assert other_device.get("/account").status_code == 200
    login(user)
    response = client.post("/account/password", data={
        "old_password": PASSWORD, "new_password": "新的密码好记又长",
        "new_password_confirm": "新的密码好记又长", "csrf_token": csrf_token(client, "/account/password")})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert client.post("/login", data={"phone": user.phone, "password": "新的密码好记又长",
                                       "csrf_token": csrf_token(client)}).status_code == 302


def test_post_without_csrf_token_is_refused(client, db, create_user):
    before = count_users(db)
    response = client.post("/register", data={"name": "张三", "phone": "13912345678",
                                              "password": "老伴李秀英1958年",
                                              "password_confirm": "老伴李秀英1958年", "agree": "y"})
    assert response.status_code == 400
    assert "表单校验码" in response.get_data(as_text=True)
    assert count_users(db) == before


def test_signed_in_pages_are_not_cached(client, login, create_user):
    login(create_user())
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_next_parameter_cannot_redirect_off_site(client, create_user):
    user = create_user()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "next": target,
                                               "csrf_token": csrf_token(client)})
        assert response.headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})


def test_elder_mode_persists_on_the_device_and_the_account(client, db, login, create_user):
    assert 'class="elder"' not in client.get("/").get_data(as_text=True)
    client.post("/preferences/elder", data={"elder": "1", "next": "/privacy",
                                            "csrf_token": csrf_token(client, "/")})
    assert 'class="elder"' in client.get("/").get_data(as_text=True)
    user = create_user()
    login(user)
    db.session.refresh(user)
    assert user.elder_mode is True  # the choice made before signing in is kept
    assert 'class="elder"' in client.get("/account").get_data(as_text=True)
    client.post("/preferences/elder", data={"elder": "0", "csrf_token": csrf_token(client, "/")})
    db.session.refresh(user)
    assert user.elder_mode is False
