"""The shipped gazetteer: offline lookup of Chinese administrative divisions.

Reads data/gazetteer.csv once per process (about 3,200 rows). Used to place an address in its
county with no network, and by `flask regions load` to fill the regions table. Henan's townships
(data/townships-41.csv, about 2,500 乡、镇、街道) place an address that names a township but not its
county; they are not regions of their own.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "gazetteer.csv"
TOWNSHIPS = Path(__file__).parent / "data" / "townships-41.csv"

# Suffixes that people drop in everyday speech: 郑州市 → 郑州, 管城回族区 → 管城, 淅川县 → 淅川.
_SUFFIXES = sorted(
    ["特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县", "自治旗",
     "回族区", "林区", "特区", "地区", "新区", "矿区", "省", "市", "区", "县", "旗", "盟"],
    key=len, reverse=True)
_ETHNIC = re.compile(r"(?:[\u4e00-\u9fff]{1,8}?族)+(?=自治)")


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str          # province | city | county | township (townships: see townships())
    parent_code: str | None
    lat: float
    lon: float
    coord_source: str

    @property
    def depth(self) -> int:
        return {"province": 0, "city": 1, "county": 2}[self.level]


@cache
def places() -> dict[str, Place]:
    with DATA.open(encoding="utf-8") as f:
        return {
            row["code"]: Place(row["code"], row["name"], row["level"], row["parent_code"] or None,
                               float(row["lat"]), float(row["lon"]), row["coord_source"])
            for row in csv.DictReader(f)
        }


def get(code: str) -> Place | None:
    return places().get(code)


def place(code: str) -> Place:
    """A place the gazetteer is known to hold (KeyError otherwise)."""
    return places()[code]


def ancestors(code: str) -> list[Place]:
    """The place and every place containing it, innermost first."""
    chain = []
    place = places().get(code)
    while place is not None:
        chain.append(place)
        place = places().get(place.parent_code) if place.parent_code else None
    return chain


def short_names(name: str) -> set[str]:
    """The forms a name is written in: 管城回族区 → {管城回族区, 管城}; 长垣市 → {长垣市, 长垣}."""
    forms = {name}
    stem = _ETHNIC.sub("", name)
    for suffix in _SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
            forms.add(stem[: -len(suffix)])
            break
    return forms


@cache
def _index() -> tuple[dict[str, list[Place]], int]:
    index: dict[str, list[Place]] = {}
    for place in places().values():
        for form in short_names(place.name):
            index.setdefault(form, []).append(place)
    return index, max(len(k) for k in index)


def _mentions(text: str) -> list[tuple[int, int, Place]]:
    """Every (start, end, place) whose name or short form occurs in the text."""
    index, longest = _index()
    found = []
    for start in range(len(text)):
        for end in range(min(len(text), start + longest), start + 1, -1):
            for place in index.get(text[start:end], ()):
                found.append((start, end, place))
    return found


@cache
def townships() -> dict[str, list[Place]]:
    """Henan's townships by name (the full name only: 大金店镇, 文化路街道), several where counties
    share a name."""
    by_name: dict[str, list[Place]] = {}     # names of three characters and more (农场 is too common a word)
    with TOWNSHIPS.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if len(row["name"]) < 3:
                continue
            by_name.setdefault(row["name"], []).append(
                Place(row["code"], row["name"], row["level"], row["parent_code"] or None, float(row["lat"]),
                      float(row["lon"]), row["coord_source"]))
    return by_name


@dataclass(frozen=True)
class Resolved:
    """Where free text puts a home: `place` as locate() says; when the text names no county but a
    township that several counties have, `township` is its name and `counties` those counties."""

    place: Place | None
    township: str = ""
    counties: tuple[Place, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.counties) > 1

    def reason(self) -> str:
        """Why the county is not known, in Chinese, for an ambiguous township."""
        names = "、".join(f"{c.name}（{place(c.parent_code).name}）" if c.parent_code and
                         place(c.parent_code).level == "city" else c.name for c in self.counties[:4])
        if len(self.counties) > 4:
            names += f"等 {len(self.counties)} 个县（市、区）"
        return f"“{self.township}”在{names}都有，不能确定是哪个县（市、区），请写明县（市、区）"


def _township_mentions(text: str) -> list[tuple[int, int, Place]]:
    names = townships()
    found = []
    for start in range(len(text)):
        for end in range(start + 3, min(len(text), start + 13) + 1):
            for township in names.get(text[start:end], ()):
                found.append((start, end, township))
    return found


def _prefix(place: Place) -> str:
    """The code prefix of everything inside a place."""
    return {"province": place.code[:2], "city": place.code[:4]}.get(place.level, place.code)


def resolve(text: str, *, within: str | None = None) -> Resolved:
    """The deepest division named in free Chinese text, as locate(); when no county is named, a
    township (of Henan) the text names places the home in the township's county, if one county
    only has a township of that name inside what the text does name (登封市大金店镇, or 大金店镇
    alone). A township name two such counties share is not guessed: the answer says which."""
    text = re.sub(r"\s+", "", text or "")
    found = _locate(text, within)
    if found is not None and found.level == "county":
        return Resolved(found)
    scope = _prefix(found) if found is not None else (within or "")
    if within is not None and not (scope.startswith(within) or within.startswith(scope)):
        return Resolved(found)          # a place elsewhere (北京市): its townships are not known here
    mentions = _township_mentions(text) if text else []
    by_name: dict[str, dict[str, Place]] = {}
    for _, _, township in mentions:
        county = places().get(township.parent_code or "")
        if county is not None and county.code.startswith(scope) and (within is None or county.code.startswith(within)):
            by_name.setdefault(township.name, {})[county.code] = county
    if not by_name:
        return Resolved(found)
    counties = {code for choices in by_name.values() for code in choices}
    if len(counties) == 1:
        return Resolved(places()[counties.pop()])
    unique = [next(iter(c.values())) for c in by_name.values() if len(c) == 1]
    if unique and len({c.code for c in unique}) == 1:
        return Resolved(unique[0])      # 大金店镇 is 登封's; 东大街街道, also named, is not a second claim
    name, choices = max(by_name.items(), key=lambda item: len(item[0]))
    return Resolved(found, name, tuple(sorted(choices.values(), key=lambda c: c.code)))


def locate(text: str, *, within: str | None = None) -> Place | None:
    """The deepest division named in free Chinese text.

    "河南省郑州市管城回族区东大街" → 管城回族区. Names mentioned together must agree: 朝阳区 after
    北京市 is Beijing's, not Changchun's, and "河南省朝阳区" names no county of Henan, so the answer is
    河南省. `within` (a code prefix such as "41") settles names that remain ambiguous, and keeps a
    name from wandering out of it: a place outside is only taken when the text also names what
    contains it (北京市朝阳区; never 朝阳路 alone). A township of Henan places the text in its
    county when no county is named (resolve()). Returns None when nothing is recognised.
    """
    return resolve(text, within=within).place


def _locate(text: str, within: str | None) -> Place | None:
    mentions = _mentions(text) if text else []
    if within is not None:
        def anchored(item: tuple[int, int, Place]) -> bool:
            chain = {a.code for a in ancestors(item[2].code)[1:]}
            return any(m[2].code in chain for m in mentions if m[1] <= item[0] or item[1] <= m[0])

        mentions = [m for m in mentions if m[2].code.startswith(within) or m[2].level == "province" or anchored(m)]
    if not mentions:
        return None

    def overlaps(a, b) -> bool:
        return a[0] < b[1] and b[0] < a[1]

    def score(item: tuple[int, int, Place]) -> tuple:
        start, end, place = item
        chain = {a.code for a in ancestors(place.code)[1:]}
        others = [m for m in mentions if not overlaps(m, item)]
        support = len({m[2].code for m in others if m[2].code in chain})
        conflict = sum(1 for m in others if m[2].depth < place.depth and m[2].code not in chain)
        exact = text[start:end] == place.name
        inside = within is not None and place.code.startswith(within)
        # Prefer, in order: no contradiction with other names, agreement with them, depth, being
        # inside the preferred area, the full name over a short form, a longer match, an earlier one.
        return (-conflict, support, place.depth, inside, exact, end - start, -start)

    return max(mentions, key=score)[2]


def counties_of(prefix: str) -> list[Place]:
    return [p for p in places().values() if p.level == "county" and p.code.startswith(prefix)]
