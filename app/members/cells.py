"""Reading the values bureaus write into roster cells: birth dates in every common Chinese form,
phone numbers however typed or stored, several skills in one cell, gender, and 身体状况 as free text.
Each reader returns what it understood and, where it had to interpret, a note saying how, so the
row report can tell the admin what was done. Pure: no database, no Flask.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.accounts.phone import normalise_phone
from app.members.models import Capacity, Gender

EXCEL_EPOCH = date(1899, 12, 30)     # serial 1 = 1900-01-01 (with Excel's 1900 leap-year quirk)


class Unreadable(ValueError):
    """A cell that cannot be read, with the reason in Chinese."""


@dataclass(frozen=True)
class BirthDate:
    year: int
    month: int | None = None


def _nfkc(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


_YEAR_MONTH = re.compile(r"^(\d{4})\s*[.\-/年]\s*(\d{1,2})(?:\s*[.\-/月]\s*(\d{1,2})\s*日?|\s*月)?$")


def birth_date(value: object) -> BirthDate | None:
    """1950.3, 1950.03, 1950-03, 1950/3, 1950年3月, 1950年3月5日, 195003, 19500305, 1953, an
    Excel date or an Excel serial number (18324 = 1950-03-02). None for an empty cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return BirthDate(value.year, value.month)
    if isinstance(value, date):
        return BirthDate(value.year, value.month)
    if isinstance(value, bool):
        raise Unreadable("出生年月看不懂")
    if isinstance(value, float) and not value.is_integer():
        # A number typed as 1950.03 is stored as 1950.03; 1950.10 is stored as 1950.1.
        text = f"{value:.2f}"
        if re.fullmatch(r"\d{4}\.\d{2}", text):
            return _checked(int(text[:4]), int(text[5:]), value)
        raise Unreadable(f"出生年月“{value}”看不懂，请写成 1950.03 或 1950年3月")
    text = _nfkc(value)
    if isinstance(value, (int, float)) or text.isdigit():
        number = int(float(text))
        if 1900 <= number <= 2100:
            return BirthDate(number)
        if 190001 <= number <= 210012 and 1 <= number % 100 <= 12:
            return BirthDate(number // 100, number % 100)
        if 19000101 <= number <= 21001231:
            return _checked(number // 10000, number // 100 % 100, value)
        if 2100 < number < 80000:                       # an Excel date stored as its serial number
            day = EXCEL_EPOCH + timedelta(days=number)
            return BirthDate(day.year, day.month)
        raise Unreadable(f"出生年月“{text[:20]}”看不懂，请写成 1950.03 或 1950年3月")
    text = re.sub(r"\s+", "", text).rstrip("年")
    if re.fullmatch(r"\d{4}", text):
        return BirthDate(int(text))
    found = _YEAR_MONTH.match(text)
    if found:
        return _checked(int(found.group(1)), int(found.group(2)), value)
    raise Unreadable(f"出生年月“{str(value)[:20]}”看不懂，请写成 1950.03 或 1950年3月")


def _checked(year: int, month: int, raw: object) -> BirthDate:
    if not 1 <= month <= 12:
        raise Unreadable(f"出生年月“{str(raw)[:20]}”的月份不对")
    return BirthDate(year, month)


def phone(value: object) -> tuple[str | None, str]:
    """(the mobile number, a note) from a cell: spaces, dashes, full-width digits, +86, a number
    stored as a number, or several numbers in one cell (the first mobile one is taken).
    (None, "") for an empty cell; Unreadable when no mobile number is in it."""
    if value is None or value == "":
        return None, ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _nfkc(value)
    if not text:
        return None, ""
    number = normalise_phone(text)
    if number:
        return number, ""
    parts = [p for p in re.split(r"[/,，、;；|]|或|\s{2,}", text) if p.strip()]
    mobiles = [m for m in (normalise_phone(p) for p in parts) if m]
    if mobiles:
        return mobiles[0], (f"电话一格有几个号码，登记了手机 {mobiles[0]}" if len(parts) > 1 else "")
    digits = re.sub(r"\D", "", text)
    if re.fullmatch(r"0\d{9,11}|\d{7,8}", digits):
        raise Unreadable(f"“{text[:20]}”是座机号码，账号需要手机号码")
    raise Unreadable(f"手机号码“{text[:20]}”不对，应为 11 位手机号码")


def gender(value: object) -> Gender | None:
    text = _nfkc(value or "").lower()
    if not text:
        return None
    found = {"男": Gender.MALE, "男性": Gender.MALE, "m": Gender.MALE, "male": Gender.MALE,
             "女": Gender.FEMALE, "女性": Gender.FEMALE, "f": Gender.FEMALE, "female": Gender.FEMALE}.get(text)
    if found is None:
        raise Unreadable("性别只能填“男”或“女”")
    return found


_SKILL_SPLIT = re.compile(r"[、，,；;/／\s]+")
_SKILL_LEVEL = re.compile(r"^(.+?)[(（]\s*(了解|熟练|精通|一般|较好|擅长)\s*[)）]$")
LEVEL_WORDS = {"了解": 1, "一般": 1, "熟练": 2, "较好": 2, "精通": 3, "擅长": 3}


def split_skills(value: object) -> list[tuple[str, int | None]]:
    """The skills named in one cell, each with the level written beside it (书法（精通）) or None:
    "书法、法律咨询，种植技术；豫剧/中医 电脑" → six skills."""
    text = _nfkc(value or "")
    found: list[tuple[str, int | None]] = []
    # Brackets may hold a separator-free level only; split outside them.
    for token in _SKILL_SPLIT.split(text):
        token = token.strip("。.等")
        if not token:
            continue
        level = _SKILL_LEVEL.match(token)
        if level:
            found.append((level.group(1), LEVEL_WORDS[level.group(2)]))
        else:
            found.append((token, None))
    return found


_CAPACITY_WORDS: list[tuple[re.Pattern[str], Capacity]] = [
    (re.compile(r"较重|重体力|很好|硬朗|强健|健壮|非常健康"), Capacity.HEAVY),
    (re.compile(r"中度|良好|健康|较好|好"), Capacity.MODERATE),
    (re.compile(r"轻度|一般|慢性|高血压|糖尿病|心脏|腿脚|行动不便|较差|差|体弱|多病|住院|卧床|残疾"), Capacity.LIGHT),
]


def capacity(value: object) -> tuple[Capacity | None, bool]:
    """(the capacity level, whether a person should check it) from 身体状况 as written: 轻度 / 中度 /
    较重 exactly need no check; other words (良好, 一般, 有高血压…) are read and marked for review;
    a word that names an illness always reads as 轻度, whatever else it says."""
    text = _nfkc(value or "")
    if not text:
        return None, False
    exact = {c.label: c for c in Capacity}.get(text)
    if exact is not None:
        return exact, False
    light = _CAPACITY_WORDS[2][0].search(text)
    if light and not re.fullmatch(r"(身体)?(较好|良好|健康)", text):
        return Capacity.LIGHT, True
    for pattern, level in _CAPACITY_WORDS:
        if pattern.search(text):
            return level, True
    raise Unreadable(f"身体状况“{text[:20]}”看不懂，请写轻度、中度或较重")
