"""Coverage-guided fuzzing of lint and fix with atheris (outside the unit tests).

    pip install atheris
    python benchmarks/fuzz_atheris.py -atheris_runs=100000 [CORPUS_DIR ...]

libFuzzer adds new inputs to the first corpus directory; without one, a temporary copy of the
bundled fixtures seeds the run (the fixtures themselves are never written). A crash is any
exception from lint or fix, the engine's refusal to write a fix that broke the XML, a finding
without a real position, fixed output that no longer parses, or a fix that is not idempotent.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import atheris  # noqa: E402

with atheris.instrument_imports():
    from famfs_xml.api import fix_text, lint_text
    from famfs_xml.lint.document import load
    from famfs_xml.lint.engine import FixRefused

OPTIONS = {"select": ["ALL"], "ignore": ["FX901"]}


def _parses(data: bytes) -> bool:
    doc = load(data, "fuzz.xml")
    return doc.tree is not None and not any(p.code in ("FX001", "FX003") for p in doc.problems)


def test_one_input(data: bytes) -> None:
    for finding in lint_text(data, path="fuzz.xml", **OPTIONS):
        if finding.line < 1 or finding.column < 1:
            raise AssertionError(f"finding without a position: {finding}")
    try:
        fixed = fix_text(data, path="fuzz.xml", unsafe_fixes=True, **OPTIONS)
    except FixRefused:
        raise AssertionError("a fix built XML that does not parse") from None
    if fixed != data:
        if not _parses(fixed):
            raise AssertionError("fixed output does not parse")
        if fix_text(fixed, path="fuzz.xml", unsafe_fixes=True, **OPTIONS) != fixed:
            raise AssertionError("fix is not idempotent")


def main() -> None:
    import shutil
    import tempfile

    args = list(sys.argv)
    if not any(not arg.startswith("-") for arg in args[1:]):
        seeds = Path(tempfile.mkdtemp(prefix="famfs-xml-fuzz-"))
        for number, path in enumerate(sorted((REPO / "fixtures").rglob("*.xml"))):
            shutil.copyfile(path, seeds / f"{number:03d}-{path.name}")
        args.append(str(seeds))
        print(f"corpus: {seeds}", file=sys.stderr)
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
