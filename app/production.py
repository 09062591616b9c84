"""Production fails closed: the settings a live service must have, checked before it starts.

`problems()` lists every missing or unsafe setting, one `Problem` each with a Chinese and an
English explanation. `create_app()` refuses to build a production app that has any (the web
workers and the job worker build one each); the gunicorn master checks the same list, and the
number of web workers, before it binds (`gunicorn.conf.py` runs `main()` below);
`flask doctor` prints the list.

The Flask command line still loads an unsafe production app, so that `flask doctor` can say
what is wrong and `flask db upgrade` can run while the rest is being fixed; `flask seed-demo`
refuses in production whatever the settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

from app import config as configuration
from app.notifications.sms import TEMPLATES

MIN_SECRET_LENGTH = 32
MAX_DEFAULT_WEB_WORKERS = 8


@dataclass(frozen=True)
class Problem:
    setting: str
    zh: str
    en: str

    def line(self) -> str:
        return f"{self.setting}: {self.zh} / {self.en}"


class UnsafeProduction(RuntimeError):
    """Raised instead of starting a production service with missing or unsafe settings."""

    def __init__(self, found: list[Problem]):
        self.problems = found
        super().__init__("\n".join(p.line() for p in found))


def web_workers() -> int:
    """gunicorn's worker count: WEB_CONCURRENCY, or two per CPU plus one, at most eight.

    The same rule as gunicorn.conf.py, which must not import the application (a reload would
    keep the old code); tests/test_serving.py checks that the two agree."""
    configured = os.environ.get("WEB_CONCURRENCY", "").strip()
    if configured:
        return int(configured)
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WEB_WORKERS)


def problems(config: Mapping[str, Any], *, web_workers: int | None = None) -> list[Problem]:
    """Every production setting that is missing or unsafe in `config`. The worker-count rule is
    checked when the number of web workers is known (the gunicorn master knows it)."""
    found = []
    if config.get("YINHUI_ENV") != "production":
        found.append(Problem("YINHUI_ENV", "不是生产模式（应为 production），Cookie 不加 Secure，开发密钥也会被接受",
                             "not production: cookies are not Secure and development defaults are accepted"))
    secret = config.get("SECRET_KEY") or ""
    if not secret:
        found.append(Problem("SECRET_KEY", "未设置；请设为至少 32 个字符的随机串",
                             "not set; use at least 32 random characters"))
    elif len(secret) < MIN_SECRET_LENGTH:
        found.append(Problem("SECRET_KEY", f"太短（{len(secret)} 个字符），至少需要 {MIN_SECRET_LENGTH} 个",
                             f"too short ({len(secret)} characters), at least {MIN_SECRET_LENGTH} needed"))
    url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if url.startswith("sqlite") and not config.get("ALLOW_SQLITE_IN_PRODUCTION"):
        found.append(Problem("DATABASE_URL", "未设置或指向 SQLite；生产环境请用 PostgreSQL"
                             "（确需单机 SQLite 时设 ALLOW_SQLITE_IN_PRODUCTION=1）",
                             "not set or SQLite; use PostgreSQL (or set ALLOW_SQLITE_IN_PRODUCTION=1 on purpose)"))
    base_url = str(config.get("BASE_URL") or "")
    if not base_url.startswith("https://"):
        found.append(Problem("BASE_URL", f"应为本服务对外的 https:// 地址（现为 {base_url or '空'}），邮件里的链接用它",
                             f"must be the service's public https:// address (now {base_url or 'empty'}); "
                             "links in emails use it"))
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if web_workers is not None and web_workers > 1 and storage.startswith("memory://"):
        found.append(Problem("REDIS_URL", f"未设置：{web_workers} 个 Web 进程各记各的登录次数，限流形同虚设",
                             f"not set: {web_workers} web workers would each count login attempts alone; "
                             "rate limits need shared storage"))
    found.extend(sms_problems(config))
    return found


def sms_problems(config: Mapping[str, Any]) -> list[Problem]:
    """Texts must really go out: the log backend writes every sign-in and reset code into the log,
    where anyone who reads the logs could use it, and members who forgot their password would wait
    for a code that never comes."""
    backend = str(config.get("SMS_BACKEND") or "log")
    if backend != "aliyun":
        return [Problem("SMS_BACKEND", f"为 {backend}：短信不会发出，验证码只写进日志（看得到日志的人就能用它登录）；"
                        "请设 SMS_BACKEND=aliyun 并配置阿里云短信",
                        f"is {backend}: no text is sent and sign-in codes are written to the log, where anyone "
                        "reading it could use them; set SMS_BACKEND=aliyun and configure Alibaba Cloud SMS")]
    codes = config.get("SMS_TEMPLATE_CODES") or {}
    missing = [name for name in ("SMS_ALIYUN_ACCESS_KEY_ID", "SMS_ALIYUN_ACCESS_KEY_SECRET", "SMS_SIGN_NAME")
               if not config.get(name)]
    missing += [f"SMS_TEMPLATE_CODES.{key}" for key in TEMPLATES if not codes.get(key)]
    if missing:
        return [Problem("SMS_BACKEND", f"阿里云短信缺少设置：{'、'.join(missing)}",
                        f"Alibaba Cloud SMS is missing: {', '.join(missing)}")]
    return []


def refuse_unsafe(config: Mapping[str, Any], *, web_workers: int | None = None) -> None:
    found = problems(config, web_workers=web_workers)
    if found:
        raise UnsafeProduction(found)


@click.command()
@click.option("--workers", type=int, default=None, help="Number of web workers (default: as gunicorn.conf.py).")
def main(workers: int | None) -> None:
    """Exit non-zero, with one line per problem, when production settings are missing or unsafe.

    Run by the gunicorn master before it starts (gunicorn.conf.py)."""
    found = problems(configuration.settings().config, web_workers=workers if workers is not None else web_workers())
    for problem in found:
        click.echo(f"拒绝启动 refusing to start — {problem.line()}", err=True)
    sys.exit(1 if found else 0)
