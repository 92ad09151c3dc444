"""Output formats. Each reporter turns a finished run into text; none prints."""

from __future__ import annotations

from collections.abc import Callable

from famfs_xml.report import json_report, text
from famfs_xml.run import RunResult

Reporter = Callable[[RunResult, str], str]

REPORTERS: dict[str, Reporter] = {
    "text": text.render,
    "json": json_report.render,
}
