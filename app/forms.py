"""Form base class and validators shared by every blueprint.

Forms check shape and format only; rules that need the database live in services. Messages are
Chinese: our own validators say what to do, and WTForms' built-in ones use its zh translation.
"""

from __future__ import annotations

import re
import unicodedata

from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, StopValidation, ValidationError

from app.errors import DomainError

_EMOJI = re.compile("[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F1E6-\U0001F1FF\uFE0F\u200d]")


class BaseForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    def add_error(self, error: DomainError) -> None:
        """Show a service's refusal beside its field, or at the top of the form."""
        field = getattr(self, error.field, None) if error.field else None
        if field is not None and hasattr(field, "errors"):
            if not isinstance(field.errors, list):
                field.errors = list(field.errors)
            field.errors.append(error.message)
        else:
            self.form_errors.append(error.message)

    @property
    def error_list(self) -> list[tuple[str | None, str]]:
        """(field id or None, message) for the error summary, in field order."""
        items: list[tuple[str | None, str]] = [(None, m) for m in self.form_errors]
        for field in self:
            for message in field.errors if isinstance(field.errors, list) else []:
                items.append((field.id, message))
        return items


def options(pairs, placeholder: str | None = "请选择") -> list[SelectChoice]:
    """Choices for a SelectField from (value, label) or (value, label, optgroup) tuples."""
    result = [SelectChoice("", placeholder)] if placeholder is not None else []
    for pair in pairs:
        value, label, *group = pair
        result.append(SelectChoice(str(value), label, optgroup=group[0] if group else None))
    return result


def strip(value):
    return value.strip() if isinstance(value, str) else value


def required(message: str):
    return DataRequired(message=message)


def input_required(message: str):
    return InputRequired(message=message)


def length(max: int, label: str, min: int = -1):
    if min > 0:
        return Length(min=min, max=max, message=f"{label}应为 {min} 到 {max} 个字")
    return Length(max=max, message=f"{label}最多 {max} 个字")


class PlainText:
    """Refuse control characters (and, for names, emoji) that have no place in the field."""

    def __init__(self, label: str, *, multiline: bool = False, allow_emoji: bool = True):
        self.label = label
        self.multiline = multiline
        self.allow_emoji = allow_emoji

    def __call__(self, form, field):
        value = field.data
        if not isinstance(value, str) or not value:
            return
        allowed = {"\n", "\r", "\t"} if self.multiline else set()
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in allowed
               and ch not in "\u200d\ufe0f" for ch in value):
            raise StopValidation(f"{self.label}中有无法显示的特殊字符，请删除后重新输入")
        if not self.allow_emoji and _EMOJI.search(value):
            raise StopValidation(f"{self.label}中不能有表情符号")


class Finite:
    """Numbers must be ordinary numbers: "NaN" and "Infinity" parse as decimals but are not."""

    def __call__(self, form, field):
        data = field.data
        if data is not None and hasattr(data, "is_finite") and not data.is_finite():
            raise StopValidation("请输入一个数字")


class PersonName:
    """A person's name: Chinese characters, letters, the middle dot and spaces."""

    pattern = re.compile(r"^[\u3400-\u9fff\uf900-\ufaffA-Za-z·•．.\s]{1,40}$")

    def __call__(self, form, field):
        if field.data and not self.pattern.match(field.data):
            raise ValidationError("姓名只能包含汉字、字母和“·”")


__all__ = ["BaseForm", "Finite", "options", "PlainText", "PersonName", "ValidationError", "length", "required",
           "input_required", "strip"]
