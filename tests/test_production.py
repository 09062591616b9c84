"""Production fails closed: each missing or unsafe setting stops the service with one line (Chinese
and English) and a non-zero exit; `flask seed-demo` refuses; `flask doctor` lists every problem."""

from __future__ import annotations

import runpy
import sys

import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner
from limits.storage import MemoryStorage
from prometheus_client import values as prometheus_values

from app import create_app
from app.extensions import limiter
from app.production import UnsafeProduction, main, problems, web_workers
from tests.conftest import database_url_for, redis_namespace, reset_rate_limits
from tests.servers import ROOT, Gunicorn, flask, run

SAFE = {
    "YINHUI_ENV": "production",
    "SECRET_KEY": "s" * 48,
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/yinhui",
    "BASE_URL": "https://yinhui.example.gov.cn",
    "REDIS_URL": "redis://127.0.0.1:6379/6",
    "SMS_BACKEND": "aliyun",
    "SMS_ALIYUN_ACCESS_KEY_ID": "LTAI-test-key",
    "SMS_ALIYUN_ACCESS_KEY_SECRET": "test-secret",
    "SMS_TEMPLATE_CODES": '{"login_code": "SMS_1", "notice": "SMS_2", "reminder": "SMS_3"}',
}
SMS_SETTINGS = {"SMS_BACKEND": "aliyun", "SMS_ALIYUN_ACCESS_KEY_ID": "LTAI-test-key",
                "SMS_ALIYUN_ACCESS_KEY_SECRET": "test-secret", "SMS_SIGN_NAME": "银晖",
                "SMS_TEMPLATE_CODES": {"login_code": "SMS_1", "notice": "SMS_2", "reminder": "SMS_3"}}

# (what is changed, the setting the one line names)
UNSAFE = {
    "no SECRET_KEY": ({"SECRET_KEY": None}, "SECRET_KEY"),
    "short SECRET_KEY": ({"SECRET_KEY": "too-short"}, "SECRET_KEY"),
    "no DATABASE_URL (SQLite)": ({"DATABASE_URL": None}, "DATABASE_URL"),
    "SQLite named": ({"DATABASE_URL": "sqlite:////tmp/yinhui.db"}, "DATABASE_URL"),
    "no BASE_URL": ({"BASE_URL": None}, "BASE_URL"),
    "plain http BASE_URL": ({"BASE_URL": "http://yinhui.example.gov.cn"}, "BASE_URL"),
    "several workers, no Redis": ({"REDIS_URL": None, "WEB_CONCURRENCY": "3"}, "REDIS_URL"),
    "texts only logged": ({"SMS_BACKEND": "log"}, "SMS_BACKEND"),
    "no SMS backend named": ({"SMS_BACKEND": None}, "SMS_BACKEND"),
    "Aliyun without its secret": ({"SMS_ALIYUN_ACCESS_KEY_SECRET": None}, "SMS_BACKEND"),
}


def environment(changes: dict[str, str | None]) -> dict[str, str]:
    env = {**SAFE, **changes}
    return {k: v for k, v in env.items() if v is not None}


def check(env: dict[str, str]):
    """What the gunicorn master runs before it binds (gunicorn.conf.py), with only these settings."""
    cleared = {name: None for name in ("SECRET_KEY", "DATABASE_URL", "BASE_URL", "REDIS_URL", "WEB_CONCURRENCY",
                                       "ALLOW_SQLITE_IN_PRODUCTION", "YINHUI_ENV", *SMS_SETTINGS)}
    return CliRunner().invoke(main, [], env={**cleared, **env})


def config(**changes):
    values = {"YINHUI_ENV": "production", "SECRET_KEY": SAFE["SECRET_KEY"], "BASE_URL": SAFE["BASE_URL"],
              "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1/yinhui",
              "RATELIMIT_STORAGE_URI": SAFE["REDIS_URL"], "ALLOW_SQLITE_IN_PRODUCTION": False, **SMS_SETTINGS}
    return {**values, **changes}


def test_safe_production_settings_have_no_problems():
    assert problems(config(), web_workers=4) == []


@pytest.mark.parametrize("changes,setting", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "x" * 31}, "SECRET_KEY"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:////srv/yinhui.db"}, "DATABASE_URL"),
    ({"BASE_URL": "http://127.0.0.1:5000"}, "BASE_URL"),
    ({"BASE_URL": ""}, "BASE_URL"),
    ({"YINHUI_ENV": "development"}, "YINHUI_ENV"),
    ({"SMS_BACKEND": "log"}, "SMS_BACKEND"),
    ({"SMS_TEMPLATE_CODES": {"login_code": "SMS_1"}}, "SMS_BACKEND"),
])
def test_each_unsafe_setting_is_one_problem_with_both_languages(changes, setting):
    [problem] = problems(config(**changes), web_workers=1)
    assert problem.setting == setting
    line = problem.line()
    assert "\n" not in line and line.startswith(setting + ":")
    assert any("\u4e00" <= c <= "\u9fff" for c in problem.zh) and problem.en.isascii()


def test_production_refuses_texts_that_would_only_reach_the_log():
    [problem] = problems(config(SMS_BACKEND="log"), web_workers=1)
    assert "验证码只写进日志" in problem.zh and "SMS_BACKEND=aliyun" in problem.zh


def test_production_names_every_missing_aliyun_setting_in_one_line():
    [problem] = problems(config(SMS_ALIYUN_ACCESS_KEY_ID="", SMS_TEMPLATE_CODES={"login_code": "SMS_1"}),
                         web_workers=1)
    assert problem.zh == "阿里云短信缺少设置：SMS_ALIYUN_ACCESS_KEY_ID、SMS_TEMPLATE_CODES.notice、SMS_TEMPLATE_CODES.reminder"


def test_sqlite_is_allowed_in_production_only_when_asked_for():
    assert problems(config(SQLALCHEMY_DATABASE_URI="sqlite:////srv/yinhui.db", ALLOW_SQLITE_IN_PRODUCTION=True),
                    web_workers=1) == []


def test_per_process_rate_limits_are_refused_only_with_several_workers():
    memory = config(RATELIMIT_STORAGE_URI="memory://")
    assert problems(memory, web_workers=1) == []
    assert [p.setting for p in problems(memory, web_workers=2)] == ["REDIS_URL"]


def test_create_app_refuses_an_unsafe_production_with_every_problem(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(UnsafeProduction) as refused:
        create_app(config(SECRET_KEY=None, BASE_URL="http://x"))
    assert [p.setting for p in refused.value.problems] == ["SECRET_KEY", "BASE_URL"]
    assert len(str(refused.value).splitlines()) == 2


def test_create_app_builds_a_safe_production_app():
    app = create_app(config())
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["HSTS"]


def test_a_production_app_built_in_a_test_leaves_other_runs_rate_limit_counts_alone(app):
    """The production app takes over the one module-level limiter and points it at Redis db 6,
    where the two-hosts test counts wrong passwords from its gunicorn hosts, perhaps at this very
    moment on the other worker. Putting the limiter back for the next test must not empty db 6."""
    store = redis.Redis.from_url(SAFE["REDIS_URL"])
    someone_elses = f"LIMITS:LIMITER/{redis_namespace('othercounts')}/account:19700005555/login"
    try:
        store.set(someone_elses, 3, ex=60)
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    try:
        create_app(config())
        assert not isinstance(limiter.storage, MemoryStorage)     # taken over, as in production
        reset_rate_limits(app)
        assert store.get(someone_elses) == b"3"
        assert isinstance(limiter.storage, MemoryStorage)          # the next test counts in memory again
    finally:
        store.delete(someone_elses)


@pytest.mark.parametrize("case", list(UNSAFE))
def test_each_refusal_is_one_line_and_a_non_zero_exit(case):
    changes, setting = UNSAFE[case]
    result = check(environment(changes))
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0] and "refusing to start" in lines[0] and "拒绝启动" in lines[0]


def test_the_check_passes_on_safe_settings():
    result = check(environment({}))
    assert result.exit_code == 0 and result.output == "", result.output


def test_gunicorn_refuses_to_start_on_unsafe_production_settings(tmp_path):
    server = Gunicorn(env=environment({"BASE_URL": None}), logs=tmp_path)
    with pytest.raises(RuntimeError, match="gunicorn exited with 1"):
        server.start()
    assert "拒绝启动 refusing to start — BASE_URL:" in server.stderr()
    assert "Booting worker" not in server.stderr()


def test_seed_demo_refuses_in_production(tmp_path):
    database = tmp_path / "yinhui.db"
    result = flask("seed-demo", "--if-empty", env={**environment({"DATABASE_URL": f"sqlite:///{database}"}),
                                                   "ALLOW_SQLITE_IN_PRODUCTION": "1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: 生产环境不加载演示数据（演示账号的密码是公开的）/ refusing to load demo data in production: "
        "the demo accounts' password is published"]
    assert not database.exists() or sa.inspect(sa.create_engine(f"sqlite:///{database}")).get_table_names() == []


def test_doctor_prints_every_problem_and_exits_non_zero():
    env = {"YINHUI_ENV": "production", "SECRET_KEY": "short", "BASE_URL": "http://yinhui.example",
           "WEB_CONCURRENCY": "4", "REDIS_URL": "redis://127.0.0.1:1/0",
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere", "SMS_BACKEND": "log"}
    result = flask("doctor", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["✗ SECRET_KEY", "✗ BASE_URL", "✗ SMS_BACKEND", "✗ DATABASE_URL",
                                                      "✗ REDIS_URL"]
    assert all(" / " in line and any("\u4e00" <= c <= "\u9fff" for c in line) for line in lines)


def test_doctor_counts_the_web_workers_for_the_rate_limit_rule():
    env = {"YINHUI_ENV": "production", "SECRET_KEY": SAFE["SECRET_KEY"], "BASE_URL": SAFE["BASE_URL"],
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere", "WEB_CONCURRENCY": "3",
           **{k: v for k, v in SAFE.items() if k.startswith("SMS_")}}
    result = flask("doctor", env=env)
    assert "✗ REDIS_URL: 未设置：3 个 Web 进程" in result.stdout


def test_doctor_passes_on_a_complete_migrated_production(app):
    url = database_url_for()
    env = {**environment({"DATABASE_URL": url, "REDIS_URL": None}), "WEB_CONCURRENCY": "1"}
    if url.startswith("sqlite"):
        env["ALLOW_SQLITE_IN_PRODUCTION"] = "1"
    result = flask("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "✓ 生产环境设置齐全 / production settings are complete"


def test_doctor_in_development_says_so():
    result = flask("doctor", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("✗ YINHUI_ENV: 不是生产模式")


def test_gunicorn_conf_counts_workers_as_the_doctor_does(monkeypatch, tmp_path):
    # The config file points prometheus_client at a directory through the environment: restored
    # after the test, so that later tests' metrics stay in this process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.ValueClass)
    for configured in ("", "3"):
        monkeypatch.setenv("WEB_CONCURRENCY", configured)
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        assert conf["workers"] == web_workers()
    assert conf["workers"] == 3
    assert conf["preload_app"] is False and conf["timeout"] > 0 and conf["graceful_timeout"] > 0


def test_gunicorn_conf_replaces_workers_rarely_and_takes_the_count_from_the_environment(monkeypatch, tmp_path):
    """A worker is still replaced after a bounded number of requests (memory never creeps), but
    not every few thousand: each replacement imports the app again and starts with cold caches."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(prometheus_values, "ValueClass", prometheus_values.ValueClass)
    monkeypatch.delenv("GUNICORN_MAX_REQUESTS", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["max_requests"] == 200_000 and conf["max_requests_jitter"] == 20_000
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS", "50000")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["max_requests"] == 50_000 and conf["max_requests_jitter"] == 5_000


def test_the_job_worker_refuses_unsafe_production_settings_without_a_traceback():
    result = run([sys.executable, "-m", "huey.bin.huey_consumer", "app.jobs.worker.queue", "-w", "1"],
                 environment({"BASE_URL": None}))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("拒绝启动 refusing to start — BASE_URL:")
    assert lines[1:] == ["\x1b[91mError importing app.jobs.worker.queue\x1b[0m"]    # Huey's own word
    assert "Traceback" not in result.stderr
