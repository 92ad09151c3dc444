"""The values a lint run produces: findings, and the text edits that fix them."""

from __future__ import annotations

import enum
from typing import NamedTuple


class Severity(enum.IntEnum):
    """Ordered so that ``severity >= fail_on`` decides the exit code."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None


class Applicability(enum.Enum):
    """How far a fix may be trusted (ruff's model)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    NONE = "none"


class Edit(NamedTuple):
    """Replace the bytes ``[start, end)`` of the document's UTF-8 text with ``text``.

    ``start == end`` is an insertion. Offsets are byte offsets into
    :attr:`famfs_xml.lint.document.Document.work` (the file itself for UTF-8 files).
    """

    start: int
    end: int
    text: str

    def overlaps(self, other: Edit) -> bool:
        if self.start == self.end and other.start == other.end:
            return self.start == other.start
        return self.start < other.end and other.start < self.end


class Fix(NamedTuple):
    """A set of edits that together repair one finding."""

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]


class Finding(NamedTuple):
    """One problem at one place in one file."""

    code: str
    name: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    fix: Fix | None = None
    end_line: int | None = None
    end_column: int | None = None
    hint: str | None = None  # the next command to run (host checks)

    @property
    def fixable(self) -> bool:
        return self.fix is not None and self.fix.applicability is Applicability.SAFE

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)


class FileResult:
    """Everything a run learnt about one file.

    A plain class, not a dataclass: the records on a lint run's path keep ``dataclasses``
    (and the ``inspect`` it imports, ~6 ms) off the start-up of a git hook.
    """

    __slots__ = (
        "changed",
        "findings",
        "fixed_codes",
        "host",
        "offsets_are_file_bytes",
        "path",
        "skipped",
    )

    def __init__(
        self,
        path: str,
        findings: list[Finding] | None = None,
        skipped: bool = False,  # a directory scan found a file that is not a domain
        fixed_codes: list[str] | None = None,  # fixes applied, in order
        changed: bool = False,
        # Edit offsets are byte offsets into the file itself (UTF-8 without a byte-order
        # mark); otherwise they index the file's UTF-8 rendering and do not apply to its bytes.
        offsets_are_file_bytes: bool = True,
        host: str | None = None,  # the named host the domain belongs to (None: unnamed)
    ) -> None:
        self.path = path
        self.findings: list[Finding] = [] if findings is None else findings
        self.skipped = skipped
        self.fixed_codes: list[str] = [] if fixed_codes is None else fixed_codes
        self.changed = changed
        self.offsets_are_file_bytes = offsets_are_file_bytes
        self.host = host
