"""What gunicorn.conf.py calls so that Prometheus metrics add up across worker processes.

In gunicorn.conf.py:

    from app.ops import gunicorn_hooks
    gunicorn_hooks.prepare_multiprocess(os.environ.get("PROMETHEUS_MULTIPROC_DIR", "/run/yinhui/metrics"))

    def child_exit(server, worker):
        gunicorn_hooks.child_exit(server, worker)

prepare_multiprocess() runs once in the master, before the workers are forked: it empties the
directory (values of an earlier run would otherwise be added in) and switches prometheus_client to
writing its values there. Every metric of app.ops.metrics has labels, so none holds a value before
its first request and the order of imports does not matter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess, values


def prepare_multiprocess(directory: str | os.PathLike[str]) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # prometheus_client chose its value class when it was imported, perhaps before the variable was
    # set; metrics look it up when a labelled value is first made, so choosing again here suffices.
    values.ValueClass = values.get_value_class()
    return path


def child_exit(_server: Any, worker: Any) -> None:
    """A worker ended: its live gauges no longer count (counters and histograms stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
