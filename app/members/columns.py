"""The fields a roster column can fill, and the names bureaus give those columns.

A column of a spreadsheet is recognised by its header text through a synonym table (姓名/名字,
联系电话/手机号码 …); what the table does not settle the admin maps on the mapping page, and the
choice is remembered for the next file with the same headers (ImportMapping, keyed by signature()).
The downloadable template's headers are all in the table, so the template maps itself.
Pure: no database, no Flask.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

IGNORE = ""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    hint: str
    many: bool = False          # may several columns fill it (the template's 专长1…3)


FIELDS: list[Field] = [
    Field("name", "姓名", "必填"),
    Field("phone", "手机号码", "11 位手机号码，可带空格、横线、+86"),
    Field("gender", "性别", "男 或 女"),
    Field("birth", "出生年月", "1950.03、1950年3月、1953 或 Excel 日期"),
    Field("work_unit", "原工作单位", ""),
    Field("post", "原职务", ""),
    Field("work_unit_post", "原工作单位及职务", "整段记为原工作单位"),
    Field("branch", "所在党支部", "与系统里的支部名称一致"),
    Field("address", "家庭住址（现居住地）", "必填，写明县（市、区）"),
    Field("radius", "服务范围（公里）", "1 到 100"),
    Field("availability", "方便的时间", "例如：周一上午、周三下午"),
    Field("skills", "专长（可多项）", "用 、，；/ 或空格隔开，可写程度，如“书法（精通）”", many=True),
    Field("level", "专长程度", "了解、熟练或精通；跟在它前面的专长列", many=True),
    Field("consent", "同意保存敏感信息", "是 或 否"),
    Field("consent_method", "同意方式", "纸质同意书 或 口头同意"),
    Field("capacity", "身体状况", "轻度、中度、较重，或“良好”“一般”等文字"),
]
FIELD_BY_KEY = {f.key: f for f in FIELDS}
REQUIRED = ("name", "address")

# Header text (normalised by clean()) → field. The template's own headers come first.
SYNONYMS: dict[str, str] = {
    **{h: "name" for h in ("姓名", "名字", "老同志姓名", "党员姓名", "人员姓名")},
    **{h: "phone" for h in ("手机号码", "手机号", "手机", "联系电话", "电话", "电话号码", "联系方式", "手机号码（必填）",
                            "移动电话", "本人电话", "联系手机")},
    **{h: "gender" for h in ("性别",)},
    **{h: "birth" for h in ("出生年份", "出生年月", "出生日期", "生日", "出生时间", "出生年月日", "出生年")},
    **{h: "work_unit" for h in ("原工作单位", "原单位", "工作单位", "退休前单位", "原工作单位名称", "退休单位")},
    **{h: "post" for h in ("原职务", "职务", "退休前职务", "原任职务", "原职级", "职级")},
    **{h: "work_unit_post" for h in ("原工作单位及职务", "原单位及职务", "工作单位及职务", "原工作单位和职务",
                                     "单位及职务", "原工作单位及职级")},
    **{h: "branch" for h in ("所在党支部", "党支部", "支部", "所在支部", "党组织", "所在党组织", "所属支部")},
    **{h: "address" for h in ("家庭住址", "现居住地", "住址", "居住地址", "现住址", "家庭地址", "现居住地址", "居住地",
                              "现家庭住址", "地址")},
    **{h: "radius" for h in ("服务范围（公里）", "服务范围", "服务半径")},
    **{h: "availability" for h in ("方便的时间", "可服务时间", "服务时间", "空闲时间")},
    **{h: "skills" for h in ("特长", "专长", "技能", "特长（可多项）", "专长（可多项）", "特长专长", "个人特长", "专业特长",
                             "特长爱好", "擅长", "技能特长")},
    **{h: "consent" for h in ("同意保存敏感信息", "本人同意", "是否同意")},
    **{h: "consent_method" for h in ("同意方式",)},
    **{h: "capacity" for h in ("身体状况", "健康状况", "身体情况", "健康情况", "体力")},
}
# The template's numbered skill columns: 专长1 / 程度1 …
_NUMBERED = re.compile(r"^(专长|特长|技能)\d$")
_LEVEL = re.compile(r"^(程度|专长程度|掌握程度)\d?$")
# Columns a roster has that Yinhui does not keep: recognised, so they are ignored without asking.
KNOWN_IGNORED = {"序号", "编号", "备注", "民族", "籍贯", "文化程度", "学历", "入党时间", "参加工作时间", "退休时间",
                 "身份证号", "身份证号码", "政治面貌", "职称"}


def clean(text: object) -> str:
    """A header as compared: full-width folded, spaces, line breaks and trailing colons dropped,
    ASCII brackets made Chinese ones (特长(可多项) = 特长（可多项）)."""
    value = unicodedata.normalize("NFKC", str(text or ""))
    value = re.sub(r"[\s\u3000*＊:：]+", "", value)
    return value.replace("(", "（").replace(")", "）")


def recognise(header: object) -> str | None:
    """The field a header names, IGNORE for a known column Yinhui does not keep, None when unknown."""
    text = clean(header)
    if not text:
        return None
    if text in SYNONYMS:
        return SYNONYMS[text]
    if _NUMBERED.match(text):
        return "skills"
    if _LEVEL.match(text):
        return "level"
    if text in KNOWN_IGNORED:
        return IGNORE
    bare = re.sub(r"（.*?）", "", text)    # 联系电话（手机） → 联系电话
    if bare != text:
        return recognise(bare)
    return None


def auto_mapping(headers: list[str]) -> list[str | None]:
    """A field (or IGNORE) for each column by the synonym table; None where it cannot tell. A field
    that is not `many` goes to its first column only; a later column naming it again is left to the admin."""
    mapping: list[str | None] = []
    taken: set[str] = set()
    for header in headers:
        key = recognise(header)
        if key and not FIELD_BY_KEY[key].many and key in taken:
            key = None
        if key:
            taken.add(key)
        mapping.append(key)
    return mapping


def signature(headers: list[str]) -> str:
    """Who else has these headers: the same columns in the same order give the same signature."""
    return hashlib.sha256("\x1f".join(clean(h) for h in headers).encode()).hexdigest()


def mapping_problems(mapping: list[str | None]) -> list[str]:
    """What is wrong with a complete mapping, in Chinese (empty when it can be used)."""
    problems = []
    if any(m is None for m in mapping):
        problems.append("还有列没有选择，请为每一列选择对应的项目，或选择“不导入”")
    chosen = [m for m in mapping if m]
    for key in REQUIRED:
        if key not in chosen:
            problems.append(f"请指出哪一列是“{FIELD_BY_KEY[key].label}”")
    for key in {k for k in chosen if not FIELD_BY_KEY[k].many}:
        if chosen.count(key) > 1:
            problems.append(f"“{FIELD_BY_KEY[key].label}”只能对应一列")
    if "work_unit_post" in chosen and ("work_unit" in chosen or "post" in chosen):
        problems.append("已选了“原工作单位及职务”，就不要再单独选“原工作单位”或“原职务”")
    return problems


def unmapped_required(mapping: list[str | None]) -> list[str]:
    chosen = set(m for m in mapping if m)
    return [FIELD_BY_KEY[k].label for k in REQUIRED if k not in chosen]
