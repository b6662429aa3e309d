"""Content hashes and atomic file writes.

A write goes to a temporary file in the destination folder and is moved into place with
``os.replace``, so a reader sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_many(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all temp files are written first, then each is moved into place.

    If writing any temp file fails, the temp files are removed and the destinations are untouched.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for dest, data in files.items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
            staged.append((tmp, dest))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, dest in staged:
        os.replace(tmp, dest)
