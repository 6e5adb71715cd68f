"""Atomic writes and content-keyed caching: the one place every module that writes a cache file goes through.

- Atomic: a file or folder is written under a temporary name next to its final place, then renamed into place
  (``os.replace``, atomic on one file system), so a reader never sees a half-written entry and an interrupted run
  leaves at most a stray temporary behind, never a corrupt cache.
- Content-keyed: a cache entry's name carries a hash of everything it depends on (``content_key`` of the
  parameters, ``file_fingerprint`` of the source files), so a changed file or option gets a new entry instead of a
  stale one; bump a format number inside the key when the meaning of the cached arrays changes.

Nothing here imports from the rest of the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

__all__ = ["atomic_write_bytes", "atomic_savez", "atomic_directory", "content_key", "file_fingerprint",
           "cached_directory"]


def _temporary_file(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    fd, tmp = _temporary_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_savez(path: str | os.PathLike, compressed: bool = False, **arrays) -> Path:
    """``np.savez`` (``np.savez_compressed`` with ``compressed``) of ``arrays`` to ``path``, atomically.

    ``path`` is used as given (numpy's habit of appending '.npz' does not apply to an open file)."""
    path = Path(path)
    fd, tmp = _temporary_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_directory(final_path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``final_path``; on success rename it to ``final_path``.

    If the body raises, the temporary folder is removed and ``final_path`` is untouched. If ``final_path`` appeared
    meanwhile (another process built the same entry first), that one is kept and ours is discarded: with
    content-keyed names both hold the same thing. An existing ``final_path`` is never overwritten.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{final_path.name}-", suffix=".tmp", dir=final_path.parent))
    try:
        yield building
        try:
            os.rename(building, final_path)  # unlike os.replace, never replaces a non-empty folder
        except OSError:
            if not final_path.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def content_key(parts) -> str:
    """Hex SHA-256 of ``parts`` (anything JSON can write: dicts, lists, strings, numbers), key order ignored.

    Two calls give the same key exactly when their parts serialise the same; non-JSON values (a Path, a numpy
    scalar) are written through ``str``."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_fingerprint(paths: Iterable[str | os.PathLike]) -> str:
    """Hex SHA-256 of each file's absolute path, size and modification time (ns), in sorted path order.

    Cheap (no file is read), and changes whenever a file is replaced, edited, moved or added. Raises
    FileNotFoundError naming a missing file."""
    digest = hashlib.sha256()
    for file in sorted(os.path.abspath(p) for p in paths):
        try:
            stat = os.stat(file)
        except FileNotFoundError:
            raise FileNotFoundError(f"{file} not found (a source file of a cache entry)") from None
        digest.update(f"{file}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_directory(cache_dir: str | os.PathLike, name: str, key: str, build: Callable[[Path], None]) -> Path:
    """The folder ``cache_dir/<name>-<key[:20]>``, filled once by ``build(folder)`` inside ``atomic_directory``.

    key: a hex digest, typically ``content_key([params, file_fingerprint(files)])``. When the folder exists it is
    returned as is, without calling ``build``."""
    entry = Path(cache_dir) / f"{name}-{key[:20]}"
    if entry.is_dir():
        return entry
    with atomic_directory(entry) as building:
        build(building)
    return entry
