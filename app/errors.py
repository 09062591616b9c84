"""Domain errors raised by services, and the HTTP error pages."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.ops.context import current_request_id
from app.ops.metrics import failed_logins

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule said no. The message is Chinese and fit to show to the user."""

    status = 400
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class Invalid(DomainError):
    status = 400


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


LOGIN_CEILING = "login-account"     # the rate limit on one account's failed sign-ins from everywhere

ERROR_TEXT = {
    400: ("请求有误", "提交的内容无法处理。请返回上一页检查后重试。"),
    403: ("没有权限", "您的账号没有办理这项业务的权限。如需开通，请联系所在地老干部局。"),
    404: ("找不到页面", "您要找的页面不存在，或者不在您的管理范围内。请检查网址，或回到首页。"),
    405: ("请求方式不对", "这个页面不支持这样打开。请回到首页重新操作。"),
    409: ("发生冲突", "您要做的事与已有的记录冲突，请刷新后再试。"),
    413: ("文件太大", "上传的文件太大，请拆分后再上传。"),
    429: ("操作太频繁", "尝试次数太多，为保护账号安全请稍后再试。"),
    500: ("系统出错了", "很抱歉，系统暂时出了问题，您填写的内容没有保存。请稍后再试，或拨打帮助热线。"),
    503: ("系统正忙", "现在办理的人多，您这次提交没有保存。请按手机或浏览器的“返回”键回到上一页（填好的内容还在），"
                   "等几秒钟再提交一次。"),
}

BUSY_RETRY_SECONDS = 5
# PostgreSQL's retryable refusals: lock_timeout (55P03), serialization failure (40001), deadlock (40P01).
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01"})


def database_busy(error: OperationalError) -> bool:
    """The database refused for now, not for good: SQLite's lock outlasted the busy timeout, or
    PostgreSQL gave up waiting on a lock or a concurrent transaction. Trying again shortly works."""
    if getattr(error.orig, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or (
        best == "application/json"
        and request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]
    )


def render_error(status: int, detail: str | None = None, *,
                 retry_after: int | None = None) -> tuple[Response | str, int]:
    title, text = ERROR_TEXT.get(status, ERROR_TEXT[500] if status >= 500 else ERROR_TEXT[400])
    if wants_json():
        return jsonify(error={"status": status, "title": title, "message": detail or text,
                              "request_id": current_request_id()}), status
    return render_template("errors/error.html", status=status, title=title, text=text, detail=detail,
                           retry_after=retry_after), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, "表单校验码缺失或无效，内容没有提交。请返回刷新页面后重新提交。")

    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        db.session.rollback()
        return render_error(e.status, e.message)

    @app.errorhandler(429)
    def too_many(e):
        retry_after = None
        limit = getattr(e, "limit", None)
        if limit is not None:
            try:
                retry_after = int(limit.limit.get_expiry())
            except Exception:  # pragma: no cover - defensive: the page still renders
                retry_after = None
        if request.endpoint == "accounts.login":
            failed_logins.labels("rate_limited").inc()
        if getattr(limit, "scope", None) == LOGIN_CEILING:
            return render_error(429, "这个账号今天密码输错的次数太多，为保护账号，今天暂停用密码登录。"
                                     "请在登录页点“忘记密码”，用短信验证码重新设置密码，就能马上登录。",
                                retry_after=retry_after)
        minutes = max(1, round((retry_after or 300) / 60))
        return render_error(429, f"尝试次数太多。为保护您的账号，请 {minutes} 分钟后再试。"
                                 f"如忘记密码，可以在登录页点“忘记密码”用短信验证码重新设置。", retry_after=retry_after)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return render_error(e.code or 500)

    @app.errorhandler(OperationalError)
    def operational_error(e: OperationalError):
        if not database_busy(e):
            raise e         # any other database error is a server error, logged as Flask logs those
        db.session.rollback()
        log.warning("database busy: %s", type(e.orig).__name__)
        body, status = render_error(503, retry_after=BUSY_RETRY_SECONDS)
        response = app.make_response((body, status))
        response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return response

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return render_error(500)
