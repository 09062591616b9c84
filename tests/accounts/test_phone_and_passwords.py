import pytest

from app.accounts.passwords import hash_password, password_problem, verify_password
from app.accounts.phone import mask_phone, normalise_phone


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "１３８００１３８０００", "138-0013-8000",
                                   "+86 138 0013 8000", "0086 13800138000", "8613800138000",
                                   "　１３８　００１３　８０００　"])
def test_phone_numbers_are_normalised(typed):
    assert normalise_phone(typed) == "13800138000"


@pytest.mark.parametrize("typed", ["", "12800138000", "1380013800", "138001380001", "0371-65000000",
                                   "abcdefghijk", "138OO138OOO", "13800138000\x00", "+1 13800138000"])
def test_malformed_phone_numbers_are_refused(typed):
    assert normalise_phone(typed) is None


def test_phone_numbers_are_masked():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone(None) == ""


def test_argon2id_hashes_verify(app):
    with app.app_context():
        h = hash_password("一句好记的话abc")
        assert h.startswith("$argon2id$")
        assert verify_password(h, "一句好记的话abc")
        assert not verify_password(h, "一句好记的话abd")
        assert not verify_password(None, "whatever")
        assert not verify_password("not-a-hash", "whatever")


def test_production_hash_parameters_are_argon2_defaults(app):
    from argon2 import PasswordHasher

    from app.config import Config

    assert Config.PASSWORD_HASH_PARAMS == {}
    assert PasswordHasher().type.name == "ID"


@pytest.mark.parametrize("password,problem", [
    ("short7!", "至少"),
    ("x" * 65, "最多"),
    ("12345678", "常见"),
    ("password", "常见"),
    ("woaini1314", "常见"),
    ("88888888", "常见"),
    ("abcdefgh", "常见"),
    ("aaaaaaaaaa", "常见"),
    ("x13800138000", "手机"),
    ("我家住在东大街3号", "常见"),      # once printed on the sign-up page as an example
])
def test_weak_passwords_are_refused(password, problem):
    assert problem in password_problem(password, phone="13800138000")


@pytest.mark.parametrize("password", ["老伴李秀英1958年", "correct horse battery", "".join(chr(0x4E00 + 7 * i) for i in range(64)), "Tb7#kq!2"])
def test_reasonable_passwords_are_accepted(password):
    assert password_problem(password, phone="13800138000") is None
