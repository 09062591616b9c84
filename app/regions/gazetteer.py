"""The shipped gazetteer: offline lookup of Chinese administrative divisions.

Reads data/gazetteer.csv once per process (about 3,200 rows). Used to place an address in its
county with no network, and by `flask regions load` to fill the regions table.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "gazetteer.csv"

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
    level: str          # province | city | county
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


def locate(text: str, *, within: str | None = None) -> Place | None:
    """The deepest division named in free Chinese text.

    "河南省郑州市管城回族区东大街" → 管城回族区. Names mentioned together must agree: 朝阳区 after
    北京市 is Beijing's, not Changchun's, and "河南省朝阳区" names no county of Henan, so the answer is
    河南省. `within` (a code prefix such as "41") settles names that remain ambiguous. Returns None
    when nothing is recognised.
    """
    text = re.sub(r"\s+", "", text or "")
    mentions = _mentions(text) if text else []
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
