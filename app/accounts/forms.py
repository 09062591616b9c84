"""Account forms: shape and format only."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import Email, Optional, Regexp, ValidationError

from app.accounts.phone import normalise_phone
from app.forms import BaseForm, PersonName, PlainText, length, options, required, strip


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


class ChannelsForm(BaseForm):
    """Which ways the account's notifications travel (the page explains each)."""

    sms = BooleanField("手机短信", description="发到您登记的手机号。短信只在早 8 点到晚 9 点之间发送（登录验证码除外）。")
    app = BooleanField("站内消息", description="登录银晖后在“消息”里看到，有新消息时页面顶部有提示。")
    email = BooleanField("电子邮件", description="发到您在本页下方填写的邮箱。")


class RecoveryPhoneForm(BaseForm):
    phone = phone_field("您注册时用的手机号码")


class SmsCodeForm(BaseForm):
    code = StringField("短信验证码", filters=[strip],
                       validators=[required("请填写短信里的 6 位验证码"),
                                   Regexp(r"^\d{6}$", message="验证码是 6 位数字，请对照短信重新输入")],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6})


class StaffCodeForm(BaseForm):
    phone = phone_field("您注册时用的手机号码")
    code = StringField("重置码", filters=[strip],
                       validators=[required("请填写工作人员给您的重置码"), length(20, "重置码")],
                       description="8 位字母和数字，例如 ABCD-2345。不分大小写。",
                       render_kw={"autocomplete": "off", "autocapitalize": "characters"})


class NewPasswordForm(BaseForm):
    password = PasswordField("新密码", validators=[required("请设置新密码")],
                             description="至少 8 个字符。可以用一句只有您自己知道、好记的话，比如把家里人的名字和一个年份连起来。",
                             render_kw={"autocomplete": "new-password"})
    password_confirm = PasswordField("再输入一次新密码", validators=[required("请再输入一次新密码")],
                                     render_kw={"autocomplete": "new-password"})

    def validate_password_confirm(self, field):
        if self.password.data and field.data != self.password.data:
            raise ValidationError("两次输入的新密码不一样，请重新输入")


# --- staff looking after a member's account (app/members/care.py) ---------------------------------


class DisableForm(BaseForm):
    reason = StringField("停用原因", filters=[strip], validators=[length(200, "停用原因")],
                         description="例如“本人要求暂停使用”“手机丢失，等本人来换号”。会记录在操作日志里。")


class DeceasedForm(BaseForm):
    note = StringField("备注（选填）", filters=[strip], validators=[length(200, "备注")],
                       description="例如“家属告知，2026年11月”。")
    confirm = BooleanField("我已向家属或支部核实，这位老同志已经逝世",
                           validators=[required("请先核实并勾选确认")])


class PhoneChangeForm(BaseForm):
    phone = phone_field("新的手机号码")
    identity_checked = BooleanField("我已核实是老同志本人（当面核对身份证，或回拨登记过的电话）")


class TransferForm(BaseForm):
    address = StringField("新的家庭住址", filters=[strip], validators=[required("请填写新的家庭住址"), length(200, "家庭住址")],
                          description="请写上县（市、区），例如：南阳市淅川县城关镇建设路8号。")


class MergeSearchForm(BaseForm):
    class Meta:
        csrf = False   # a search (GET) changes nothing

    q = StringField("找另一个账号", filters=[strip], validators=[length(40, "查找内容")],
                    description="输入完整手机号、手机号后四位以上，或姓名。只列出您负责的老同志。")


class MergeForm(BaseForm):
    survivor = RadioField("保留哪个账号？", choices=options([("this", "这个账号"), ("other", "另一个账号")], None),
                          validators=[required("请选择保留哪个账号")],
                          description="保留的账号的登录手机号不变；另一个账号会关闭，手机号释放。")
    identity_checked = BooleanField("我已核实两个账号是同一个人（当面核对身份证，或回拨两个登记过的电话）")
