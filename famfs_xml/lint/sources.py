"""Turning command-line paths into documents: directory walks, stdin, read errors."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from famfs_xml.core.fileio import MAX_FILE_BYTES, FileTooLarge, read_limited
from famfs_xml.lint.document import Document, LoadProblem, load

STDIN = "-"


class PathError(Exception):
    """A path named on the command line cannot be used at all (exit 2)."""


class Source(NamedTuple):
    """One file to lint: ``display`` is the path as the user wrote it (or ``-``)."""

    display: str
    path: str | None  # None for stdin; a str, not a Path: a large tree has many
    explicit: bool  # named on the command line, not found by a directory scan


def expand(
    paths: Sequence[str], errors: list[str] | None = None
) -> tuple[Iterator[Source], list[str]]:
    """The files to lint, and one error message per unusable path (appended to ``errors``).

    Named paths are checked at once; directories are walked lazily, as the returned
    iterator is consumed, so that a scan of many files never holds them all. A directory
    the walk cannot read adds its error to the list then.
    """
    plan: list[Source | Path] = []  # a file or stdin to read, or a directory to walk
    errors = [] if errors is None else errors
    stdin_count = 0
    for name in paths:
        if name == STDIN:
            stdin_count += 1
            plan.append(Source(STDIN, None, True))
            continue
        path = Path(name)
        try:
            if path.is_dir():
                plan.append(path)
            elif path.exists():
                plan.append(Source(name, name, True))
            else:
                errors.append(f"{name}: No such file or directory")
        except OSError as exc:
            errors.append(f"{name}: {exc.strerror}")
    if stdin_count > 1:
        errors.append("'-' (standard input) can be given only once")
    return _follow(plan, errors), errors


def _follow(plan: list[Source | Path], errors: list[str]) -> Iterator[Source]:
    for item in plan:
        if isinstance(item, Source):
            yield item
        else:
            yield from _walk(item, errors)


def _walk(directory: Path | str, errors: list[str]) -> Iterator[Source]:
    """``*.xml`` below ``directory``, sorted, never following symlinks (no loops)."""
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        errors.append(f"{directory}: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, errors)
        elif entry.name.endswith(".xml") and entry.is_file(follow_symlinks=False):
            yield Source(entry.path, entry.path, False)


def read(source: Source) -> Document:
    """Load one source; unreadable content becomes an FX001 problem on the document."""
    try:
        if source.path is None:
            raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                raise FileTooLarge(len(raw))
        else:
            raw = read_limited(source.path)
    except FileTooLarge as exc:
        return _unreadable(
            source,
            f"file is {exc.size} bytes, over the "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB limit; not read",
        )
    return load(raw, source.display)


def _unreadable(source: Source, message: str) -> Document:
    doc = Document(path=source.display, raw=b"", work=b"")
    doc.problems.append(LoadProblem("FX001", message, 1, 1))
    return doc


# The comment libvirt writes at the top of every definition it saves (/etc/libvirt/qemu/*.xml).
# (compiled when a fix writes a file, the one time it is needed)
_LIBVIRT_HEADER = (
    rb"\A(?:\xef\xbb\xbf)?\s*<!--\s*WARNING: THIS IS AN AUTO-GENERATED FILE\."
    rb"[^>]*?virsh edit ([^\s<>]+)"
)


def libvirt_owned_note(display: str, raw: bytes, command: str, extra: str = "") -> str | None:
    """The warning for a change to a file that is libvirt's saved definition of a domain
    (it starts with libvirt's AUTO-GENERATED comment); None for any other file. The advice
    names ``command`` and ends with ``extra`` (further options of the command).

    libvirtd keeps its own copy of every persistent domain: it reads the file only when it
    starts or reloads, and writes its copy back over the file whenever it saves the domain.
    """
    match = re.match(_LIBVIRT_HEADER, raw[:1024])
    if match is None:
        return None
    name = match.group(1).decode("utf-8", "replace")
    return (
        f"{display} is libvirt's saved definition of {name}: a running libvirtd keeps its own "
        "copy, does not see this change, and writes its copy back over the file the next time "
        f"it saves the domain; use `famfs-xml {command} --connect qemu:///system {name}{extra}`"
    )
