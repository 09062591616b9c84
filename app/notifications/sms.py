"""Text messages: the templates we send, and the backends that send them.

One interface, `SmsBackend.send(message) -> Outcome`, with two backends chosen by SMS_BACKEND:

- "aliyun": Alibaba Cloud SMS (阿里云短信服务, Dysms), through its documented HTTP API: the RPC
  `SendSms` action (API version 2017-05-25) at SMS_ALIYUN_ENDPOINT, signed with the account's
  AccessKey (signature version 1.0, HMAC-SHA1 over the sorted, percent-encoded parameters). Chinese
  operators deliver only pre-approved content: each template below is registered with Aliyun, which
  gives it a code (SMS_123456789) set in SMS_TEMPLATE_CODES, and every message carries the approved
  signature (签名, SMS_SIGN_NAME) that the phone shows as 【银晖】.
- "log": development. The message is written to the log (the number masked) instead of sent.

The provider's answer decides what the outbox does next (app/notifications/sms_outbox.py): `sent`;
`retry` when the provider certainly did not take the message (connection refused, HTTP 5xx, a
throttling code); `refused` for good (a number or template the provider will never accept); and
`uncertain` when the request went out and no answer came back (a timeout): the message may have
been delivered, so it is never sent again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import re
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

from app.accounts.phone import mask_phone

log = logging.getLogger(__name__)

# Aliyun allows at most 35 characters in one variable of a notice template (验证码 variables: 4–6 digits).
MAX_VARIABLE_LENGTH = 35


@dataclass(frozen=True)
class Template:
    key: str
    text: str                     # as registered with the provider, ${name} for each variable
    variables: tuple[str, ...]

    def render(self, params: Mapping[str, str], sign_name: str, site: str = "") -> str:
        text = self.text.replace("{site}", site.rstrip("/"))
        return f"【{sign_name}】" + re.sub(r"\$\{(\w+)\}", lambda m: str(params.get(m.group(1), "")), text)


# Links are fixed in a template's text, as the operators require (never a variable): {site} stands for
# the deployment's BASE_URL, written out when the template is registered with the provider.
TEMPLATES: dict[str, Template] = {t.key: t for t in (
    Template("login_code", "您的验证码为${code}，10分钟内有效。请勿告诉他人；工作人员不会向您索要验证码。", ("code",)),
    Template("notice", "${name}您好，您有一条新消息：${title}。请登录银晖查看。", ("name", "title")),
    Template("reminder", "${name}您好，提醒您${when}参加“${title}”。如果去不了，请打开 {site}/r/${code} 点一下告诉组织者。",
             ("name", "when", "title", "code")),
)}


def clip(value: str, length: int = MAX_VARIABLE_LENGTH) -> str:
    """A template variable cut to what the provider accepts, marked when cut."""
    value = " ".join(str(value).split())
    return value if len(value) <= length else value[:length - 1] + "…"


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    template: Template
    params: dict[str, str]
    out_id: str                   # our outbox row id: the provider echoes it in delivery receipts


@dataclass(frozen=True)
class Outcome:
    status: Literal["sent", "retry", "refused", "uncertain"]
    provider_id: str | None = None
    error: str | None = None


class SmsBackend(Protocol):
    def send(self, message: SmsMessage) -> Outcome: ...


class LogBackend:
    """Development: the message goes to the log, so a developer can read a code on the console."""

    def __init__(self, sign_name: str, site: str = ""):
        self.sign_name, self.site = sign_name, site

    def send(self, message: SmsMessage) -> Outcome:
        log.info("SMS to %s: %s", mask_phone(message.phone),
                 message.template.render(message.params, self.sign_name, self.site))
        return Outcome("sent", provider_id=f"log-{message.out_id}")


# --- Aliyun Dysms --------------------------------------------------------------------------------

API_VERSION = "2017-05-25"
# Codes after which the same request may succeed later: throttling, balance, the provider's own trouble.
RETRY_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL", "isv.AMOUNT_NOT_ENOUGH", "isp.SYSTEM_ERROR", "isv.OUT_OF_SERVICE",
    "Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError",
    "SignatureNonceUsed",
})


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature asks: only A–Z a–z 0–9 - _ . ~ stay as they are,
    UTF-8 bytes as %XY with upper-case hex, a space as %20 (never +)."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(method: str, params: Mapping[str, str], secret: str) -> str:
    """Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunDysms:
    """Alibaba Cloud SMS over its HTTP API (no SDK: the API is one signed form POST)."""

    def __init__(self, *, endpoint: str, access_key_id: str, access_key_secret: str, sign_name: str,
                 template_codes: Mapping[str, str], region: str = "cn-hangzhou", timeout: float = 10):
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SMS_ALIYUN_ENDPOINT is not an http(s) address: {endpoint!r}")
        self.parts = parts
        self.access_key_id, self.secret = access_key_id, access_key_secret
        self.sign_name, self.template_codes, self.region, self.timeout = sign_name, template_codes, region, timeout

    def request_params(self, message: SmsMessage, *, nonce: str | None = None,
                       timestamp: datetime | None = None) -> dict[str, str]:
        """The signed parameters of one SendSms call."""
        code = self.template_codes.get(message.template.key)
        if not code:
            raise KeyError(f"no SMS_TEMPLATE_CODES entry for template {message.template.key!r}")
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON",
            "OutId": message.out_id, "PhoneNumbers": message.phone, "RegionId": self.region,
            "SignName": self.sign_name, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or str(uuid.uuid4()), "SignatureVersion": "1.0",
            "TemplateCode": code,
            "TemplateParam": json.dumps({k: message.params[k] for k in message.template.variables},
                                        ensure_ascii=False, separators=(",", ":")),
            "Timestamp": (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        params["Signature"] = sign("POST", params, self.secret)
        return params

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self.parts.hostname or "", self.parts.port
        if self.parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def send(self, message: SmsMessage) -> Outcome:
        try:
            params = self.request_params(message)
        except KeyError as e:
            return Outcome("refused", error=str(e))
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        connection = self._connection()
        try:
            try:
                connection.connect()
            except OSError as e:   # refused, unreachable, DNS, TLS: nothing was sent
                return Outcome("retry", error=f"connect: {type(e).__name__}: {e}")
            try:
                connection.request("POST", self.parts.path or "/", body=body.encode(), headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json"})
                response = connection.getresponse()
                status, raw = response.status, response.read(65536)
            except OSError as e:   # the request may have arrived: never send it again
                return Outcome("uncertain", error=f"no answer: {type(e).__name__}: {e}")
        finally:
            connection.close()
        return self.outcome(status, raw)

    @staticmethod
    def outcome(status: int, raw: bytes) -> Outcome:
        """What an HTTP answer of the SendSms API means for the message."""
        try:
            answer: dict[str, Any] = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            answer = {}
        code = str(answer.get("Code") or "")
        error = f"HTTP {status} {code} {answer.get('Message') or ''}".strip()
        if status >= 500:
            return Outcome("retry", error=error)
        if status == 200 and code == "OK":
            return Outcome("sent", provider_id=str(answer.get("BizId") or "") or None)
        if code in RETRY_CODES or status == 429:
            return Outcome("retry", error=error)
        return Outcome("refused", error=error)


def backend_from(config: Mapping[str, Any]) -> SmsBackend:
    """The backend SMS_BACKEND names ("aliyun" or "log")."""
    kind = config.get("SMS_BACKEND") or "log"
    if kind == "log":
        return LogBackend(config["SMS_SIGN_NAME"], config.get("BASE_URL") or "")
    if kind == "aliyun":
        return AliyunDysms(endpoint=config["SMS_ALIYUN_ENDPOINT"],
                           access_key_id=config.get("SMS_ALIYUN_ACCESS_KEY_ID") or "",
                           access_key_secret=config.get("SMS_ALIYUN_ACCESS_KEY_SECRET") or "",
                           sign_name=config["SMS_SIGN_NAME"], template_codes=config["SMS_TEMPLATE_CODES"],
                           region=config["SMS_ALIYUN_REGION"], timeout=config["SMS_TIMEOUT"])
    raise ValueError(f"SMS_BACKEND must be 'aliyun' or 'log', not {kind!r}")
