"""Reading domain files with a size cap, and writing them back atomically."""

from __future__ import annotations

import contextlib
import errno
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
    # The file descriptor itself, not a file object: a lint of a thousand small files spends
    # a noticeable part of its time opening them.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
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
            chunk = os.read(fd, min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if regular and len(chunk) < want:
                break  # a short read of a regular file is its end: no second read needed
            want = 1 << 20
    finally:
        os.close(fd)
    if total > limit:
        raise FileTooLarge(total)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FileChanged(Exception):
    """The file is no longer what was read: another program wrote it in the meantime."""


class AttributesNotKept(OSError):
    """An extended attribute (an ACL, the SELinux label, ``user.*``) of the original could
    not be given to the new file; the original is left as it was."""


def write_atomic(path: str | Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new file.

    A symlink is followed: the file it names is replaced and the link stays. The temporary
    file lives in that file's directory (rename is atomic only within one file system), is
    fsynced before the rename, and gets the original's mode, its owner and group where we
    may, and every extended attribute (POSIX ACLs, the SELinux label, ``user.*``).

    With ``expected`` (the bytes the caller read), the file is checked just before the
    rename: if another program has replaced or changed it since, :class:`FileChanged` is
    raised and nothing is written.
    """
    import tempfile  # only fix writes files: keep it off lint's start-up

    target = Path(os.path.realpath(path))
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
        # chown may clear set-id bits, and a POSIX ACL carries the mode's group bits:
        # owner first, then mode, then the attributes.
        with contextlib.suppress(PermissionError):
            os.chown(tmp_name, original.st_uid, original.st_gid)
        os.chmod(tmp_name, stat.S_IMODE(original.st_mode))
        _copy_xattrs(target, tmp_name)
        if expected is not None:
            _check_unchanged(target, original, expected)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)


def _copy_xattrs(source: Path, destination: str) -> None:
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOSYS):
            return  # a file system without extended attributes: nothing to keep
        raise
    for name in names:
        value = os.getxattr(source, name)
        try:
            if os.getxattr(destination, name) == value:
                continue  # e.g. the SELinux label the directory gave the new file
        except OSError:
            pass
        try:
            os.setxattr(destination, name, value)
        except OSError as exc:
            raise AttributesNotKept(
                exc.errno, f"cannot keep the extended attribute {name} ({exc.strerror})"
            ) from None


def _check_unchanged(target: Path, original: os.stat_result, expected: bytes) -> None:
    """Raise :class:`FileChanged` unless ``target`` is still the file that was read."""
    try:
        now = os.stat(target)
        same_file = (now.st_dev, now.st_ino) == (original.st_dev, original.st_ino)
        if not same_file or now.st_size != len(expected):
            raise FileChanged(target)
        current = read_limited(target, max(len(expected), 1))
    except (OSError, FileTooLarge):
        raise FileChanged(target) from None
    if current != expected:
        raise FileChanged(target)


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
