"""Reading domain files with a size cap, and writing them back atomically."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 16 * 1024 * 1024


class FileTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_limited(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a whole file, refusing (without reading it whole) one larger than ``limit``."""
    with open(path, "rb", buffering=0) as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        # One read of the size fstat gave (plus a byte, to see the file has not grown), not a
        # buffer of ``limit`` bytes per file. Device files and pipes report size 0 and files
        # can grow meanwhile: read on in chunks until EOF or one byte past the limit.
        chunks: list[bytes] = []
        total = 0
        want = info.st_size + 1 if info.st_size else 65536
        regular = stat.S_ISREG(info.st_mode) and info.st_size > 0
        while total <= limit:
            chunk = handle.read(min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if regular and len(chunk) < want:
                break  # a short read of a regular file is its end: no second read needed
            want = 1 << 20
    if total > limit:
        raise FileTooLarge(total)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    The temporary file lives in the same directory (rename is atomic only within one file
    system), is fsynced before the rename, and gets the original's mode and, where we may,
    its owner and group.
    """
    import tempfile  # only fix writes files: keep it off lint's start-up

    target = Path(path)
    original = os.stat(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".famfs-xml.tmp", dir=target.parent
    )
    try:
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked (a full disk fails here)
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # delayed allocation reports a full disk here at the latest
        finally:
            os.close(fd)
        os.chmod(tmp_name, stat.S_IMODE(original.st_mode))
        with contextlib.suppress(PermissionError):
            os.chown(tmp_name, original.st_uid, original.st_gid)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
