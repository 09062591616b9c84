"""Getting back into an account without the password: one-time codes.

Two ways in, one ending:
- by SMS: a 6-digit code texted to the registered phone, valid 10 minutes, 5 tries;
- staff-assisted: the member's branch organizer, or an admin whose region holds them, issues a code
  (XXXX-XXXX) shown once, to read out on the phone or hand over on paper, valid 24 hours, 5 tries,
  audited with who issued it.
Either code, once checked, lets the member set a new password; every other session of theirs ends
and they are signed in. An SMS code may instead sign the member in straight away, spent in doing so
(`sign_in_with_code`: the check-in page's way in without the password).

Asking for an SMS code answers the same whether or not the number has an account: the same page,
the same rows written (a code row for an unknown number too, which no account behind it can use)
and the same job asked of the worker, which texts only real accounts; so neither the answer nor its
time tells. Checking a code behaves the same way.
A wrong try is counted in its own transaction (the caller commits a refusal too): `check_code()`
returns an outcome instead of raising.

Codes are kept as an HMAC of the code under SECRET_KEY: a copy of the table alone gives none away.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from app import access
from app.accounts.models import RecoveryCode, RecoveryPurpose, User
from app.accounts.passwords import hash_password, password_problem
from app.accounts.phone import mask_phone, normalise_phone
from app.accounts.sessions import end_user_sessions
from app.audit.services import record_audit
from app.clock import utcnow
from app.errors import Invalid, PermissionDenied
from app.extensions import db
from app.jobs.models import Job
from app.jobs.services import Work, handler, submit
from app.members.models import MemberProfile
from app.notifications.services import notify
from app.notifications.sms_outbox import queue_sms, send_due
from app.transactions import commit_fresh

SMS_CODE_MINUTES = 10
STAFF_CODE_HOURS = 24
MAX_TRIES = 5
SET_PASSWORD_MINUTES = 15          # after a code is accepted, to choose the new password
STAFF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: read out on the phone

BAD_CODE = "验证码不正确。"
SPENT = "验证码已失效（超过有效时间或输错次数太多）。请重新获取验证码。"


def _digest(code: str) -> str:
    secret = current_app.secret_key
    material = secret if isinstance(secret, bytes) else str(secret).encode()
    key = hashlib.sha256(b"recovery:" + material).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


def _normal_staff_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _require_phone(phone: str) -> str:
    normal = normalise_phone(phone)
    if normal is None:
        raise Invalid("请输入正确的 11 位手机号码，例如 138 0013 8000", field="phone")
    return normal


def may_recover(user: User | None) -> bool:
    """Accounts a code may open: active ones with a password (a record registered by proxy and
    never claimed is taken over with its claim code instead)."""
    return user is not None and user.active and user.password_hash is not None and user.phone is not None


def _end_live_codes(phone: str, purpose: RecoveryPurpose) -> None:
    now = utcnow()
    db.session.execute(update(RecoveryCode).where(
        RecoveryCode.phone == phone, RecoveryCode.purpose == purpose, RecoveryCode.used_at.is_(None),
        RecoveryCode.expires_at > now).values(expires_at=now))


def request_sms_code(*, phone: str) -> None:
    """Text a one-time code to this number if it has an account that may use one; answer the same
    either way. The caller commits.

    The request does the same work for every number: it ends earlier codes, stores the new code's
    digest (for an unknown number, of a random code) and hands the code to a job; the job, in the
    worker, queues and sends the text only when the code belongs to an account."""
    normal = _require_phone(phone)
    user = db.session.scalar(select(User).where(User.phone == normal))
    eligible = may_recover(user)
    _end_live_codes(normal, RecoveryPurpose.SMS)
    code = f"{secrets.randbelow(10 ** 6):06d}"
    row = RecoveryCode(purpose=RecoveryPurpose.SMS, phone=normal, user_id=user.id if eligible and user else None,
                       code_digest=_digest(code), expires_at=utcnow() + timedelta(minutes=SMS_CODE_MINUTES))
    db.session.add(row)
    db.session.flush()
    submit("recovery_text", {"recovery_id": row.id, "code": code})
    record_audit(None, "account.recovery_code_request", user if eligible else None,
                 outcome="sent" if eligible else "no_account", detail={"phone": mask_phone(normal)})


@handler("recovery_text", rerun_safe=True)
def _text_code(work: Work) -> None:
    """Queue and send the text of a code asked for (see request_sms_code). The code leaves the
    job's parameters in the same transaction, so a run after a crash finds none and sends nothing."""
    code = str(work.params.get("code") or "")

    def queue() -> bool:
        db.session.execute(update(Job).where(Job.id == work.job_id).values(params="{}"))
        row = db.session.get(RecoveryCode, work.params.get("recovery_id"))
        if not code or row is None or row.user is None or not may_recover(row.user) or row.used_at is not None \
                or row.verified_at is not None or row.expires_at <= utcnow():
            return False
        assert row.user.phone is not None
        queue_sms(phone=row.user.phone, template="login_code", params={"code": code}, user=row.user, urgent=True,
                  expires_at=row.expires_at, wake=False)
        return True

    if commit_fresh(queue):
        send_due(limit=20)
    work.message = "done"


def issue_staff_code(*, actor: User, member: MemberProfile) -> str:
    """A one-time reset code for a member who cannot receive texts or has lost the phone, issued by
    their branch's organizer or an admin of their region: returned once, to show once; valid 24 hours.
    Any earlier staff code of theirs ends. The member is told (in the app and by their channels)."""
    if not access.may_care_for_account(actor, member):
        raise PermissionDenied("只有这位老同志所在支部的组织者或所在地区的管理员可以生成重置码")
    user = member.user
    if not user.active:
        raise Invalid("这个账号已停用，不能重置密码。请先由管理员启用账号。")
    if user.password_hash is None or user.phone is None:
        raise Invalid("这位老同志还没有认领账号，请为他打印认领码，不需要重置码。")
    _end_live_codes(user.phone, RecoveryPurpose.STAFF)
    secret = "".join(secrets.choice(STAFF_ALPHABET) for _ in range(8))
    db.session.add(RecoveryCode(purpose=RecoveryPurpose.STAFF, phone=user.phone, user_id=user.id,
                                issued_by_id=actor.id, code_digest=_digest(secret),
                                expires_at=utcnow() + timedelta(hours=STAFF_CODE_HOURS)))
    record_audit(actor, "account.reset_code_issue", member, detail={"user_id": user.id})
    notify(user, kind="security", title="工作人员为您生成了重设密码的重置码",
           body=f"{actor.name}为您生成了一个重置码，24 小时内有效。如果您没有请人帮忙重设密码，请联系所在支部或拨打帮助热线。")
    return f"{secret[:4]}-{secret[4:]}"


@dataclass(frozen=True)
class CodeCheck:
    recovery_id: int | None      # set when the code was right
    message: str = ""            # why not, in Chinese


def check_code(*, phone: str, code: str, purpose: RecoveryPurpose) -> CodeCheck:
    """Check a code for this number. A wrong one uses up a try, and the fifth spends the code; the
    caller commits whatever the outcome, so that tries count."""
    normal = _require_phone(phone)
    given = code.strip() if purpose is RecoveryPurpose.SMS else _normal_staff_code(code)
    now = utcnow()
    row = db.session.scalar(select(RecoveryCode).where(
        RecoveryCode.phone == normal, RecoveryCode.purpose == purpose, RecoveryCode.used_at.is_(None),
        RecoveryCode.verified_at.is_(None)).order_by(RecoveryCode.id.desc()).limit(1))
    if row is None or row.expires_at <= now or row.attempts >= MAX_TRIES:
        return CodeCheck(None, SPENT)
    if not hmac.compare_digest(row.code_digest, _digest(given)) or row.user_id is None:
        row.attempts += 1
        left = MAX_TRIES - row.attempts
        record_audit(None, "account.recovery_code_check", row.user, outcome="wrong",
                     detail={"purpose": purpose.value, "tries_left": left})
        return CodeCheck(None, f"{BAD_CODE}还可以再试 {left} 次。" if left else SPENT)
    row.verified_at = now
    row.expires_at = now + timedelta(minutes=SET_PASSWORD_MINUTES)
    record_audit(row.user, "account.recovery_code_check", row.user, detail={"purpose": purpose.value})
    return CodeCheck(row.id)


def sign_in_with_code(*, phone: str, code: str, elder_mode: bool | None = None) -> User | CodeCheck:
    """Sign in with a texted code instead of the password (the check-in page offers it to a member
    not signed in on that phone). The code is one asked for with request_sms_code() and is checked
    as check_code() checks it (a wrong try counts, the fifth spends it), then spent at once: it
    signs in, it does not open the way to a new password. Returns the account, or the refusal; the
    caller commits either way and signs the browser in. `elder_mode` as at sign-in."""
    checked = check_code(phone=phone, code=code, purpose=RecoveryPurpose.SMS)
    row = checked_code(checked.recovery_id)
    if row is None or row.user is None or not may_recover(row.user):
        return checked if checked.message else CodeCheck(None, SPENT)
    user = row.user
    user.last_login_at = row.used_at = utcnow()
    user.failed_logins, user.failed_logins_since = 0, None
    if elder_mode is not None:
        user.elder_mode = elder_mode
    record_audit(user, "account.login", user, detail={"by": "sms_code"})
    return user


def checked_code(recovery_id: int | None) -> RecoveryCode | None:
    """The code this browser has checked, while it may still set a password."""
    if recovery_id is None:
        return None
    row = db.session.get(RecoveryCode, recovery_id)
    if row is None or row.verified_at is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def set_new_password(*, recovery_id: int | None, password: str, elder_mode: bool | None = None) -> User:
    """The last step: a new password for the account whose code was checked. The code is spent,
    every session of the account ends (the caller signs this browser in afresh), the failed-login
    count starts again, and the member is told. `elder_mode`: the 长辈版 choice made on this
    device, which the account takes on as at sign-in."""
    row = checked_code(recovery_id)
    if row is None or row.user is None or not may_recover(row.user):
        raise Invalid("这一步已过期，请重新获取验证码。", field="password")
    user = row.user
    problem = password_problem(password, phone=user.phone)
    if problem:
        raise Invalid(problem, field="password")
    now = utcnow()
    user.password_hash = hash_password(password)
    user.password_changed_at = row.used_at = now
    user.failed_logins, user.failed_logins_since = 0, None
    if elder_mode is not None:
        user.elder_mode = elder_mode
    ended = end_user_sessions(user.id)
    record_audit(user, "account.password_reset", user,
                 detail={"purpose": row.purpose.value, "issued_by": row.issued_by_id, "sessions_ended": ended})
    notify(user, kind="security", title="您的密码已重新设置",
           body="其他手机或电脑上的登录已经退出。如果不是您本人操作，请马上联系所在支部或拨打帮助热线。")
    return user
