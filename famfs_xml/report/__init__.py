"""Output formats. Each reporter turns a finished run into text; none prints.

Reporters are looked up by name and imported only when used, so a run pays for its own
format only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from famfs_xml.lint.run import RunResult

Reporter = Callable[[RunResult, str], str]

_MODULES: dict[str, str] = {
    "text": "famfs_xml.report.text",
    "json": "famfs_xml.report.json_report",
    "sarif": "famfs_xml.report.sarif",
    "github": "famfs_xml.report.github",
    "junit": "famfs_xml.report.junit",
}


class _Registry(Mapping[str, Reporter]):
    def __getitem__(self, name: str) -> Reporter:
        module = importlib.import_module(_MODULES[name])
        render: Reporter = module.render
        return render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


REPORTERS: Mapping[str, Reporter] = _Registry()
