"""Reports under test-artifacts/ are written by parallel xdist workers: no entry may be lost."""

import json
import os

from tests.conftest import record

WRITERS = 4
ENTRIES = 25


def test_writers_in_parallel_processes_lose_no_entry(tmp_path):
    children = []
    for writer in range(WRITERS):
        pid = os.fork()
        if pid == 0:      # a child: write, then leave without running pytest's teardown
            code = 0
            try:
                for n in range(ENTRIES):
                    record("parallel", {f"{writer}/{n}": n}, folder=tmp_path)
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children] == [0] * WRITERS
    written = json.loads((tmp_path / "parallel.json").read_text())
    assert written == {f"{w}/{n}": n for w in range(WRITERS) for n in range(ENTRIES)}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".parallel.lock", "parallel.json"]  # no leftovers
