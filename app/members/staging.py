"""The roster import's files on disk, so the spreadsheet is parsed once and nothing grows with it
in memory.

The first step that needs a sheet's rows (the preview) parses the workbook once and stages the rows
below the header, with how each was classified, in a compact file in the instance's `imports`
folder, named by a digest of the file's bytes, the sheet and the header row: the preview's second
pass and the write step stream the staged rows instead of opening the workbook again. The write step
also stages its plan (the checked rows it will create or update) in a temporary file, so the rows
are never all held at once. Files are written under a temporary name and renamed when complete, so
a worker killed halfway leaves no staged file that a later step would trust; the import's end
(written, failed, cancelled) removes them, and files older than two days (an import left at its
preview) are swept whenever a sheet is staged.

The files are pickles of lists (cell values are str, int, float, bool, datetime, None; the plan's
rows are the importer's own dataclasses), written and read only by this process's code in the
instance folder, never from anything uploaded.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import current_app

CHUNK = 1000
KEEP_SECONDS = 2 * 24 * 3600


def folder() -> Path:
    """IMPORT_DIR (instance/imports by default): where the worker that reads a roster stages it for
    the worker that writes it, so with several hosts a folder they share."""
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def rows_path(content: bytes, sheet: str, header_row: int) -> Path:
    digest = hashlib.sha256(content)
    digest.update(f"\0{sheet}\0{header_row}".encode())
    return folder() / f"rows-{digest.hexdigest()[:40]}.pickle"


def sweep(where: Path | None = None, max_age: float = KEEP_SECONDS) -> int:
    """Remove files older than `max_age` seconds: those of imports left waiting at the preview or
    given up by a killed worker (a later step parses the workbook again if it needs the rows)."""
    limit, removed = time.time() - max_age, 0
    for path in (where or folder()).iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _write_chunks(path: Path, items: Iterable[Any]) -> Iterator[Any]:
    """Pass items through while writing them to `path` (complete only if every item went through)."""
    sweep(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".staging-")
    try:
        with os.fdopen(handle, "wb") as out:
            chunk: list = []
            for item in items:
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
                    chunk = []
                yield item
            if chunk:
                pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read_chunks(path: Path) -> Iterator[list]:
    with path.open("rb") as source:
        while True:
            try:
                yield pickle.load(source)
            except EOFError:
                return


def staged(path: Path, parse: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """The items staged at `path`, or parse()'s, staged as they go by. (A file removed by another
    import's end while it is read stays readable: it is open.)"""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        yield from _write_chunks(path, parse())
        return
    with source:
        while True:
            try:
                chunk = pickle.load(source)
            except EOFError:
                return
            yield from chunk


class Plan:
    """A temporary file of items in chunks: add() them, then read them back chunk by chunk."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(dir=folder(), prefix=".plan-")
        self.path = Path(name)
        self._out = os.fdopen(handle, "wb")
        self._chunk: list = []

    def add(self, item: Any) -> None:
        self._chunk.append(item)
        if len(self._chunk) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            pickle.dump(self._chunk, self._out, protocol=pickle.HIGHEST_PROTOCOL)
            self._chunk = []

    def chunks(self) -> Iterator[list]:
        self._flush()
        self._out.close()
        yield from read_chunks(self.path)

    def discard(self) -> None:
        if not self._out.closed:
            self._out.close()
        self.path.unlink(missing_ok=True)


def discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
