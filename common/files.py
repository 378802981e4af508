"""Writing a file so that a crash, a full disk or Ctrl-C half-way never leaves a half-written file in
place of a good one: write beside it under a temporary name, then rename (atomic on POSIX)."""

import contextlib
import hashlib
import json
import os
from pathlib import Path

from common import guards

NAME_MAX = 255  # bytes in a file name, on the file systems Linux and macOS use


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path` to write to; it replaces `path` only if the block ends
    normally, and is removed otherwise. The temporary name keeps the extension, so writers that pick
    the format by extension (matplotlib, Pillow, numpy) still do."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")  # two processes never share one
    if len(tmp.name.encode()) > NAME_MAX:  # a legal name of ~250 bytes: its temporary one must fit too
        tmp = path.with_name(f".{hashlib.sha256(path.name.encode()).hexdigest()[:16]}.tmp{os.getpid()}{path.suffix[:32]}")
    try:
        yield tmp
        guards.fault_point("sigint-replacing", 0)  # a test's signal between the write and the rename
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text):
    with replacing(path) as tmp:
        Path(tmp).write_text(text)


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2) + "\n")
