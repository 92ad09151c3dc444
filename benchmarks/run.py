"""famfs-xml's speed against the floor of what any Python + lxml tool can do.

    python benchmarks/run.py [CORPUS_DIR] [--runs N] [--copies N] [--python PYTHON]
                             [--pause SECONDS] [--markdown]

Every measurement is a fresh child process. The commands of one comparison run interleaved,
round after round (``--runs`` rounds, the order rotating), so that a burst of load on the
machine hits famfs-xml and its floor alike; the table shows the **minimum** wall time of
each, the one figure that is stable on a shared machine (start-up times move in steps of
scheduler ticks, so means and even medians jump between runs). Measured side by side:

* lint of ``CORPUS_DIR`` (default: ``$FAMFS_XML_LIBVIRT_CORPUS/inputs`` when set), with the
  default workers and with ``--jobs 1``, against a Python process that finds, reads and
  parses the same files with lxml and nothing else (the parse-only floor); the same for a
  generated corpus of ``--copies`` copies of the bundled ``fixtures/`` (0: skip it);
* cold start: ``famfs-xml lint ONE.xml`` against ``python -c "import lxml.etree"``, and the
  same lint with ``--format sarif`` and ``--format json`` against the text report;
* the libvirt hook: ``famfs-xml libvirt-hook NAME started begin -`` (an event the gate
  lets through) against a bare ``python -c pass``; ``... prepare begin -`` with the guide's
  VM on stdin (the gate lints it); the wrapper ``libvirt-hook --install`` writes, for an
  event it lets through;
* peak memory (the child's ru_maxrss) of a lint of the corpus and of ten copies of it.

The children run in an empty directory, so that no configuration file is found.

``famfs-xml`` is run as the installed program is: the script the wheel installs
(``scripts/famfs-xml``), or where the tree has none, the entry-point script pip writes
(``import re`` included), both from this tree (``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ONE_FILE = FIXTURES / "guide" / "f39-dev2.xml"
SCRIPT = REPO / "scripts" / "famfs-xml"

# The floor: find the same files the linter finds, read each once and parse it with lxml's
# safe settings. Nothing a linter could skip.
PARSE_ONLY = """
import os, sys
from lxml import etree
def walk(d):
    for e in sorted(os.scandir(d), key=lambda e: e.name):
        if e.is_dir(follow_symlinks=False):
            yield from walk(e.path)
        elif e.name.endswith('.xml') and e.is_file(follow_symlinks=False):
            yield e.path
for path in walk(sys.argv[1]):
    with open(path, 'rb') as f:
        data = f.read()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        pass
"""

# What pip writes for a [project.scripts] entry point (pip's own template).
PIP_ENTRY_POINT = """# -*- coding: utf-8 -*-
import re
import sys
from famfs_xml.cli.main import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""


@dataclass(frozen=True)
class Command:
    argv: list[str]
    stdin: Path | None = None


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    @property
    def wall_ms(self) -> float:
        return min(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return min(self.cpu) * 1000

    @property
    def rss_mib(self) -> float:
        return min(self.rss_kib) / 1024


def run_child(command: Command, env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one child run; output discarded."""
    stdin = open(command.stdin, "rb") if command.stdin else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            command.argv,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    finally:
        if command.stdin:
            stdin.close()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"benchmark command failed with exit {code}: {' '.join(command.argv)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


class Bench:
    def __init__(self, env: dict[str, str], cwd: Path, pause: float) -> None:
        self.env = env
        self.cwd = cwd
        self.pause = pause

    def measure(self, commands: dict[str, Command], runs: int) -> dict[str, Sample]:
        """Every command ``runs`` times, interleaved, the order rotating each round."""
        samples = {name: Sample() for name in commands}
        names = list(commands)
        for name in names:  # warm the page cache and the bytecode cache
            run_child(commands[name], self.env, self.cwd)
        for round_number in range(runs):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                wall, cpu, rss = run_child(commands[name], self.env, self.cwd)
                samples[name].wall.append(wall)
                samples[name].cpu.append(cpu)
                samples[name].rss_kib.append(rss)
                if self.pause:
                    time.sleep(self.pause)
        return samples


@dataclass
class Row:
    what: str
    ours: Sample
    floor_name: str = ""
    floor: Sample | None = None
    # the target: at most this ratio to the floor, this many ms over it, or this many ms
    ratio: float | None = None
    over_ms: float | None = None
    at_most_ms: float | None = None

    def verdict(self) -> str:
        ours = self.ours.wall_ms
        floor = self.floor.wall_ms if self.floor is not None else None
        if self.ratio is not None and floor is not None:
            return _met(ours / floor <= self.ratio, f"<= {self.ratio:g}x")
        if self.over_ms is not None and floor is not None:
            return _met(ours - floor <= self.over_ms, f"<= +{self.over_ms:g} ms")
        if self.at_most_ms is not None:
            return _met(ours <= self.at_most_ms, f"<= {self.at_most_ms:g} ms")
        return ""

    def cells(self) -> list[str]:
        ours = self.ours.wall_ms
        if self.floor is None:
            floor_cells = ["", "", ""]
        else:
            floor = self.floor.wall_ms
            floor_cells = [
                self.floor_name,
                f"{floor:.1f}",
                f"{ours / floor:.2f}x ({ours - floor:+.1f} ms)",
            ]
        return [self.what, f"{ours:.1f}", f"{self.ours.cpu_ms:.1f}", *floor_cells, self.verdict()]


def _met(ok: bool, target: str) -> str:
    return f"{target}: {'met' if ok else 'NOT met'}"


GROUPS = ("corpus", "start-up", "hook", "memory")
HEADER = ["measurement", "famfs-xml ms", "CPU ms", "floor", "floor ms", "ratio", "target"]


def table(rows: list[list[str]], markdown: bool) -> str:
    all_rows = [HEADER, *rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in all_rows
    )


def count_xml(directory: Path) -> int:
    return sum(1 for _ in directory.rglob("*.xml"))


def make_copies(source: Path, target: Path, copies: int) -> Path:
    """``copies`` copies of every ``*.xml`` below ``source``, in ``copies`` subfolders.

    ``fixtures/fleet`` is left out: it is a repository of several hosts, and flattened into
    one folder its hosts' devices would be compared as one machine's."""
    files = sorted(p for p in source.rglob("*.xml") if "fleet" not in p.relative_to(source).parts)
    for index in range(copies):
        folder = target / f"copy{index:04d}"
        folder.mkdir(parents=True)
        for number, path in enumerate(files):
            shutil.copyfile(path, folder / f"{number:03d}-{path.name}")
    return target


def machine(python: str) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = (
        "import platform, importlib.metadata as m; "
        "print('Python', platform.python_version() + ';', 'lxml', m.version('lxml') + ',', "
        "'typer', m.version('typer'))"
    )
    versions = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"{versions}; load average {load}"
    )


def famfs_xml_program(python: str, scratch: Path) -> list[str]:
    """The installed ``famfs-xml`` program of this tree, run by ``python``."""
    if SCRIPT.is_file():
        return [python, str(SCRIPT)]
    script = scratch / "famfs-xml"
    script.write_text(PIP_ENTRY_POINT, encoding="utf-8")
    return [python, str(script)]


def installed_wrapper(program: list[str], scratch: Path, env: dict[str, str]) -> Path | None:
    """The hook wrapper ``libvirt-hook --install`` writes, in ``scratch``; None where this
    tree has no ``--install``."""
    hooks = scratch / "hooks"
    result = subprocess.run(
        [*program, "libvirt-hook", "--install", "--hooks-dir", str(hooks)],
        capture_output=True,
        env=env,
        check=False,
    )
    wrapper = hooks / "qemu.d" / "famfs-xml"
    return wrapper if result.returncode == 0 and wrapper.is_file() else None


def corpus_rows(
    bench: Bench,
    label: str,
    directory: Path,
    program: list[str],
    python: str,
    runs: int,
    ratio: float | None,
) -> list[Row]:
    files = count_xml(directory)
    print(f"measuring lint of {label} ({files} files)...", file=sys.stderr)
    lint = [*program, "lint", "--exit-zero"]
    result = bench.measure(
        {
            "default": Command([*lint, str(directory)]),
            "one": Command([*lint, "--jobs", "1", str(directory)]),
            "floor": Command([python, "-c", PARSE_ONLY, str(directory)]),
        },
        runs,
    )
    floor = result["floor"]
    return [
        Row(f"lint {label} ({files} files)", result["default"], "parse only", floor, ratio=ratio),
        Row("  the same, --jobs 1", result["one"], "parse only", floor),
    ]


def start_up_rows(bench: Bench, program: list[str], python: str, runs: int) -> list[Row]:
    print("measuring cold start and report formats...", file=sys.stderr)
    lint = [*program, "lint", str(ONE_FILE)]
    result = bench.measure(
        {
            "text": Command(lint),
            "sarif": Command([*lint, "--format", "sarif"]),
            "json": Command([*lint, "--format", "json"]),
            "floor": Command([python, "-c", "import lxml.etree"]),
        },
        runs,
    )
    return [
        Row(
            "cold start: lint one file",
            result["text"],
            "import lxml.etree",
            result["floor"],
            ratio=1.5,
        ),
        Row("  the same, --format sarif", result["sarif"], "text", result["text"], over_ms=10),
        Row("  the same, --format json", result["json"], "text", result["text"], over_ms=10),
    ]


def hook_rows(
    bench: Bench, program: list[str], python: str, runs: int, wrapper: Path | None
) -> list[Row]:
    print("measuring the libvirt hook...", file=sys.stderr)
    hook = [*program, "libvirt-hook", "f39-dev2"]
    commands = {
        "started": Command([*hook, "started", "begin", "-"], ONE_FILE),
        "prepare": Command([*hook, "prepare", "begin", "-"], ONE_FILE),
        "floor": Command([python, "-c", "pass"]),
    }
    if wrapper is not None:
        commands["wrapper"] = Command([str(wrapper), "f39-dev2", "started", "begin", "-"], ONE_FILE)
    result = bench.measure(commands, runs)
    floor = result["floor"]
    rows = [
        Row(
            "libvirt-hook NAME started begin -",
            result["started"],
            "python -c pass",
            floor,
            ratio=1.5,
        ),
        Row(
            "libvirt-hook NAME prepare begin -, the guide's VM",
            result["prepare"],
            "python -c pass",
            floor,
            at_most_ms=50,
        ),
    ]
    if wrapper is not None:
        rows.append(
            Row(
                "  the installed wrapper, started begin", result["wrapper"], "python -c pass", floor
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    default_corpus = os.environ.get("FAMFS_XML_LIBVIRT_CORPUS")
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=Path(default_corpus) / "inputs" if default_corpus else None,
        help="a directory of domain XML files (default: the libvirt corpus)",
    )
    parser.add_argument("--runs", type=int, default=11, help="rounds per comparison (minimum)")
    parser.add_argument(
        "--copies", type=int, default=30, help="copies of fixtures/ in the generated corpus"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds between two runs (default 0.05)"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        help="measure only this group (repeatable; default: all)",
    )
    args = parser.parse_args(argv)
    groups = set(args.only or GROUPS)

    env = dict(os.environ, PYTHONPATH=str(REPO))
    # An installed wheel has its bytecode compiled; without it every run would recompile
    # each module of the package (the first, warm-up run writes the cache).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("GITHUB_ACTIONS", None)  # the default report format must stay text
    python = args.python
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="famfs-xml-bench-") as scratch_name:
        scratch = Path(scratch_name)
        # An empty working directory: no configuration file is found above it (this
        # repository's own pyproject.toml names famfs-xml, so it would be read and parsed).
        workdir = scratch / "cwd"
        workdir.mkdir()
        bench = Bench(env, workdir, args.pause)
        program = famfs_xml_program(python, scratch)
        print(f"machine: {machine(python)}", file=sys.stderr)
        corpora: list[tuple[str, Path]] = []
        if args.corpus is not None:
            if not args.corpus.is_dir():
                parser.error(f"{args.corpus} is not a directory")
            corpora.append((str(args.corpus), args.corpus))
        if args.copies > 0:
            generated = make_copies(FIXTURES, scratch / "generated", args.copies)
            corpora.append((f"{args.copies}x fixtures/", generated))
        if "corpus" not in groups:
            corpora = corpora[:1] if "memory" in groups else []
        for index, (label, directory) in enumerate(corpora if "corpus" in groups else []):
            # the target is the corpus of real domains'; files that are all findings show
            # what reporting and fixing cost on top
            target = 2.0 if index == 0 and args.corpus is not None else None
            rows += corpus_rows(bench, label, directory, program, python, args.runs, target)
        if "start-up" in groups:
            rows += start_up_rows(bench, program, python, args.runs * 2)
        if "hook" in groups:
            wrapper = installed_wrapper(program, scratch, env)
            rows += hook_rows(bench, program, python, args.runs * 2, wrapper)

        memory_note = ""
        if corpora and "memory" in groups:
            base_label, base = corpora[0]
            tenfold = scratch / "tenfold"
            for index in range(10):
                shutil.copytree(base, tenfold / f"part{index}", symlinks=True)
            print("measuring peak memory (1x and 10x)...", file=sys.stderr)
            lint = [*program, "lint", "--exit-zero"]
            memory = bench.measure(
                {"1x": Command([*lint, str(base)]), "10x": Command([*lint, str(tenfold)])},
                max(3, args.runs // 3),
            )
            one, ten = memory["1x"], memory["10x"]
            growth = ten.rss_mib / one.rss_mib
            memory_note = (
                f"peak memory, lint of {base_label}: 1x {one.rss_mib:.1f} MiB, "
                f"10x {ten.rss_mib:.1f} MiB: {growth:.2f}x "
                f"(<= 1.5x: {'met' if growth <= 1.5 else 'NOT met'}); "
                f"10x lint took {ten.wall_ms:.0f} ms wall"
            )

    print(table([row.cells() for row in rows], args.markdown))
    if memory_note:
        print()
        print(memory_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
