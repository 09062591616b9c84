"""Account forms: shape and format only."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import Email, Optional, ValidationError

from app.accounts.phone import normalise_phone
from app.forms import BaseForm, PersonName, PlainText, length, required, strip


class PhoneField(StringField):
    """A mainland mobile number; `.data` holds the normalised 11 digits once validated."""

    data: str | None

    def pre_validate(self, form: Any) -> None:
        if self.data and len(self.data) > 40:
            raise ValidationError("手机号码太长了，请输入 11 位手机号码")

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        if validation_stopped or not self.data:
            return
        normal = normalise_phone(self.data)
        if normal is None:
            self.errors.append("请输入正确的 11 位手机号码，例如 138 0013 8000")
        else:
            self.data = normal


def phone_field(label: str = "手机号码", *, optional: bool = False) -> PhoneField:
    return PhoneField(label, filters=[strip], validators=[Optional() if optional else required("请填写手机号码")],
                      render_kw={"autocomplete": "tel", "inputmode": "tel"})


class LoginForm(BaseForm):
    phone = phone_field()
    password = PasswordField("密码", validators=[required("请填写密码"), length(200, "密码")],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class RegisterForm(BaseForm):
    name = StringField("姓名", filters=[strip],
                       validators=[required("请填写姓名"), length(40, "姓名"),
                                   PlainText("姓名", allow_emoji=False), PersonName()],
                       render_kw={"autocomplete": "name"})
    phone = phone_field()
    password = PasswordField("设置密码", validators=[required("请设置密码")],
                             description="至少 8 个字符。可以用一句只有您自己知道、好记的话，比如把家里人的名字和一个年份连起来。",
                             render_kw={"autocomplete": "new-password"})
    password_confirm = PasswordField("再输入一次密码", validators=[required("请再输入一次密码")],
                                     render_kw={"autocomplete": "new-password"})
    agree = BooleanField("我已阅读并同意《个人信息保护说明》",
                         validators=[required("请阅读并同意《个人信息保护说明》后再注册")])

    def validate_password_confirm(self, field):
        if self.password.data and field.data != self.password.data:
            raise ValidationError("两次输入的密码不一样，请重新输入")


class PasswordChangeForm(BaseForm):
    old_password = PasswordField("原密码", validators=[required("请填写原密码")],
                                 render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("新密码", validators=[required("请设置新密码")],
                                 description="至少 8 个字符，不要用生日、手机号或 12345678 这样的密码。",
                                 render_kw={"autocomplete": "new-password"})
    new_password_confirm = PasswordField("再输入一次新密码", validators=[required("请再输入一次新密码")],
                                         render_kw={"autocomplete": "new-password"})

    def validate_new_password_confirm(self, field):
        if self.new_password.data and field.data != self.new_password.data:
            raise ValidationError("两次输入的新密码不一样，请重新输入")


class EmailForm(BaseForm):
    email = StringField("接收通知的电子邮箱（选填）", filters=[strip],
                        validators=[Optional(), length(254, "电子邮箱"),
                                    Email(message="请输入正确的电子邮箱，例如 wang@example.com",
                                          check_deliverability=False)],
                        description="填写后，邀请、预约结果等消息也会发到这个邮箱。不填则只在“消息”里查看。",
                        render_kw={"autocomplete": "email", "inputmode": "email"})


class FindUserForm(BaseForm):
    class Meta:
        csrf = False  # a GET search: it changes nothing

    phone = phone_field("手机号码（完整 11 位）")


class GrantForm(BaseForm):
    phone = HiddenField()
    role = SelectField("授予角色", choices=[], validators=[required("请选择角色")])
    region = SelectField("管理地区（管理员）", choices=[], validate_choice=False)
    organization = SelectField("所属组织（组织者）", choices=[], validate_choice=False)


class ConfirmForm(BaseForm):
    """A button that changes something: only the CSRF token."""
