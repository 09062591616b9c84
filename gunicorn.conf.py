"""gunicorn settings for every way Yinhui is served: `make run`, systemd (deploy/) and containers.

    gunicorn -c gunicorn.conf.py wsgi:app

Environment: BIND (default 127.0.0.1:$PORT, PORT default 8000), WEB_CONCURRENCY (workers),
GUNICORN_THREADS, GUNICORN_TIMEOUT. This file must not import the application: workers load it
themselves (no preload), so that a graceful reload (SIGHUP, `systemctl reload yinhui-web`) starts
workers on the new code while the old ones finish their requests.
"""

import os
import subprocess
import sys

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
# Each worker is replaced, gracefully, after about this many requests: memory never creeps.
max_requests = 5000
max_requests_jitter = 500
preload_app = False

# Access log on stdout (journald or the container log), without client addresses or query strings
# (personal data stays out of logs); the request id is nginx's X-Request-ID. Errors, and the
# application's own warnings (e.g. Redis unreachable, see app/config.py), on stderr. Warnings and
# up only: Flask-Limiter logs each refused attempt at INFO with its key, which holds a phone number.
accesslog = "-"
access_log_format = '%({x-request-id}i)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
logconfig_dict = {
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False,
                           "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False,
                            "qualname": "gunicorn.access"},
    },
    "handlers": {
        "access_console": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "access": {"format": "%(message)s"},
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"},
    },
}

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
