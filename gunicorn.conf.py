"""gunicorn settings for every way Yinhui is served: `make run`, systemd (deploy/) and containers.

    gunicorn -c gunicorn.conf.py wsgi:app

Environment: BIND (default 127.0.0.1:$PORT, PORT default 8000), WEB_CONCURRENCY (workers),
GUNICORN_THREADS, GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS (requests before a worker is replaced). This file must not import the application: workers load it
themselves (no preload), so that a graceful reload (SIGHUP, `systemctl reload yinhui-web`) starts
workers on the new code while the old ones finish their requests.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Prometheus metrics add up across workers through files in one directory per master (two masters
# on one host keep apart). Set before any worker imports prometheus_client. The hooks module is
# loaded by its path: importing it as app.ops.gunicorn_hooks would import the application into the
# master and pin its code for every reload.
_spec = importlib.util.spec_from_file_location(
    "yinhui_gunicorn_hooks", Path(__file__).resolve().parent / "app" / "ops" / "gunicorn_hooks.py")
assert _spec is not None and _spec.loader is not None
gunicorn_hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gunicorn_hooks)
gunicorn_hooks.prepare_multiprocess(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="yinhui-metrics-"))

bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# Two per CPU plus one, at most eight per host: more hosts, not more workers, past that. The same
# rule is app.production.web_workers(), which `flask doctor` uses.
workers = int(os.environ.get("WEB_CONCURRENCY", "").strip() or min(2 * (os.cpu_count() or 1) + 1, 8))
# Threads let a worker keep answering while one request waits on the database.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A request that takes longer than this is killed (its worker is replaced). Slow work (imports,
# exports) belongs to the job worker, not to a request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On SIGTERM or SIGHUP, workers finish the requests they hold for up to this long.
graceful_timeout = 30
keepalive = 5                      # behind nginx, which keeps its own connections open
# Each worker is replaced, gracefully, after about this many requests: memory never creeps. Not
# sooner: a new worker imports the application again (about 1.5 s of CPU) and starts with cold
# caches (compiled statements and templates, SQLite's pages). At 5,000 every worker of a busy host
# was replaced every half minute, and a signed-in /healthz cost 3.8 ms of server CPU instead of
# 1.8 ms (bench/README.md, "What every request paid").
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "").strip() or 200_000)
max_requests_jitter = max_requests // 10
preload_app = False

# No access log: the application writes one JSON line per request itself (app/ops/requestlog.py),
# with its request id, endpoint, status, duration and user id, and without client addresses or
# query strings (personal data stays out of logs). gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

proc_name = "yinhui-web"
# gunicorn 24+ opens a control socket in the home directory by default; two masters on one host
# would fight over it, and signals (systemd, honcho) do the same job.
control_socket_disable = True


def on_starting(server):
    """Production fails closed before anything binds: every missing or unsafe setting, one line
    each, and exit 1 (app.production.main). Checked in a child process, since importing the
    application here would pin its code for every reload."""
    if os.environ.get("YINHUI_ENV") != "production":
        return
    check = subprocess.run([sys.executable, "-c", "from app.production import main; main()",
                            "--workers", str(server.cfg.workers)], cwd=server.cfg.chdir, check=False)
    if check.returncode != 0:
        sys.exit(check.returncode)


def child_exit(server, worker):
    """A worker ended: its live gauges no longer count (counters and histograms stay summed)."""
    gunicorn_hooks.child_exit(server, worker)


def post_worker_init(worker):
    """The worker has loaded the application: its objects out of the cycle collector's way."""
    gunicorn_hooks.post_worker_init(worker)


def post_request(worker, req, environ, resp):
    """Now and then, what serving has compiled out of the cycle collector's way too."""
    gunicorn_hooks.post_request(worker, req, environ, resp)
