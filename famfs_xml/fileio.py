"""Reading domain files with a size cap, and writing them back atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

MAX_FILE_BYTES = 16 * 1024 * 1024


class FileTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_limited(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a whole file, refusing (without reading it whole) one larger than ``limit``."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        # Device files and pipes report size 0: read one byte past the limit to tell.
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(len(data))
    return data


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    The temporary file lives in the same directory (rename is atomic only within one file
    system), is fsynced before the rename, and gets the original's mode and, where we may,
    its owner and group.
    """
    target = Path(path)
    original = os.stat(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".famfs-xml.tmp",
                                    dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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
