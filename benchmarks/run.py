"""famfs-xml's speed and memory against the floor of what any Python + lxml tool can do.

    python benchmarks/run.py [CORPUS_DIR] [--runs N] [--copies N] [--markdown]

Every measurement is a fresh child process, repeated ``--runs`` times with the contenders
interleaved (so that a burst of load on the machine hits both alike); the table shows medians
of wall time and of CPU time (user + system of the child, which other load on the machine
disturbs less). Measured side by side:

* lint of ``CORPUS_DIR`` (default: ``$FAMFS_XML_LIBVIRT_CORPUS/inputs`` when set) and of a
  generated corpus of ``--copies`` copies of the bundled ``fixtures/``, against a Python
  process that only reads and parses the same files with lxml (the parse-only floor);
* the corpus lint again with ``--jobs 1`` (one process, no workers);
* cold start: ``famfs-xml lint ONE.xml`` against ``python -c "import lxml.etree"``, with
  ``import lxml.etree, typer.main`` (the CLI framework, before any famfs-xml code) beside it;
* peak memory (the child's ru_maxrss) for 1x and 10x the corpus.

The targets: corpus lint <= 3x the floor, cold start <= 150 ms, 10x memory <= 1.5x of 1x.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
ONE_FILE = FIXTURES / "guide" / "f39-dev2.xml"

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

# What start-up costs before any famfs-xml code runs: the parser and the CLI framework.
FRAMEWORK_ONLY = "import lxml.etree, typer.main"


@dataclass
class Sample:
    wall: list[float]
    cpu: list[float]
    rss_kib: list[int]

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rss_kib) / 1024


def run_child(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one child run; output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"benchmark command failed with exit {code}: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def measure(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, Sample]:
    samples = {name: Sample([], [], []) for name in commands}
    for cmd in commands.values():  # warm the page cache and the bytecode cache
        run_child(cmd, env)
    for _ in range(runs):
        for name, cmd in commands.items():
            wall, cpu, rss = run_child(cmd, env)
            samples[name].wall.append(wall)
            samples[name].cpu.append(cpu)
            samples[name].rss_kib.append(rss)
    return samples


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
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
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
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"{versions}; load average {load}"
    )


# What start-up costs before any famfs-xml code runs: the parser and the CLI framework.
FRAMEWORK_ONLY = "import lxml.etree, typer.main"


@dataclass
class Row:
    what: str
    ours: Sample
    floor: Sample | None
    target: str

    def cells(self) -> list[str]:
        if self.floor is None:
            return [
                self.what,
                f"{self.ours.wall_ms:.0f}",
                f"{self.ours.cpu_ms:.0f}",
                "",
                "",
                "",
                self.target,
            ]
        ratio_wall = self.ours.wall_ms / self.floor.wall_ms
        ratio_cpu = self.ours.cpu_ms / self.floor.cpu_ms
        return [
            self.what,
            f"{self.ours.wall_ms:.0f}",
            f"{self.ours.cpu_ms:.0f}",
            f"{self.floor.wall_ms:.0f} / {self.floor.cpu_ms:.0f}",
            f"{ratio_wall:.2f}x",
            f"{ratio_cpu:.2f}x",
            self.target,
        ]


HEADER = [
    "measurement",
    "famfs-xml wall ms",
    "CPU ms",
    "floor wall / CPU ms",
    "ratio (wall)",
    "ratio (CPU)",
    "target",
]


def table(rows: list[list[str]], markdown: bool) -> str:
    all_rows = [HEADER, *rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in all_rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_corpus = os.environ.get("FAMFS_XML_LIBVIRT_CORPUS")
    parser.add_argument(
        "corpus",
        nargs="?",
        type=Path,
        default=Path(default_corpus) / "inputs" if default_corpus else None,
        help="a directory of domain XML files (default: the libvirt corpus)",
    )
    parser.add_argument("--runs", type=int, default=9, help="runs per measurement (median)")
    parser.add_argument(
        "--copies", type=int, default=30, help="copies of fixtures/ in the generated corpus"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)

    env = dict(os.environ, PYTHONPATH=str(REPO))
    # An installed wheel has its bytecode compiled; without it every run would recompile
    # each module of the package (the first, warm-up run writes the cache).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = args.python
    lint = [python, "-m", "famfs_xml", "lint", "--exit-zero"]
    floor = [python, "-c", PARSE_ONLY]
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="famfs-xml-bench-") as scratch:
        corpora: list[tuple[str, Path]] = []
        if args.corpus is not None:
            if not args.corpus.is_dir():
                parser.error(f"{args.corpus} is not a directory")
            corpora.append((str(args.corpus), args.corpus))
        generated = make_copies(FIXTURES, Path(scratch) / "generated", args.copies)
        corpora.append((f"{args.copies}x fixtures/", generated))

        print(f"machine: {machine(python)}", file=sys.stderr)
        for label, directory in corpora:
            files = count_xml(directory)
            print(f"measuring lint of {label} ({files} files)...", file=sys.stderr)
            result = measure(
                {
                    "lint": [*lint, str(directory)],
                    "one process": [*lint, "--jobs", "1", str(directory)],
                    "floor": [*floor, str(directory)],
                },
                args.runs,
                env,
            )
            rows.append(
                Row(f"lint {label} ({files} files)", result["lint"], result["floor"], "<= 3x floor")
            )
            rows.append(Row("  the same, --jobs 1", result["one process"], result["floor"], ""))

        print("measuring cold start...", file=sys.stderr)
        result = measure(
            {
                "lint": [*lint, str(ONE_FILE)],
                "framework": [python, "-c", FRAMEWORK_ONLY],
                "floor": [python, "-c", "import lxml.etree"],
            },
            args.runs * 2,
            env,
        )
        rows.append(
            Row("cold start: lint one file", result["lint"], result["floor"], "<= 150 ms wall")
        )
        rows.append(Row("  import lxml + typer only", result["framework"], result["floor"], ""))

        base_label, base = corpora[0]
        tenfold = Path(scratch) / "tenfold"
        for index in range(10):
            shutil.copytree(base, tenfold / f"part{index}", symlinks=True)
        print("measuring peak memory (1x and 10x)...", file=sys.stderr)
        memory = measure(
            {"1x": [*lint, str(base)], "10x": [*lint, str(tenfold)]}, max(3, args.runs // 3), env
        )

    print(table([row.cells() for row in rows], args.markdown))
    one, ten = memory["1x"], memory["10x"]
    growth = ten.rss_mib / one.rss_mib
    print()
    print(
        f"peak memory, lint of {base_label}: 1x {one.rss_mib:.1f} MiB, "
        f"10x {ten.rss_mib:.1f} MiB: {growth:.2f}x (target <= 1.5x); "
        f"10x lint took {ten.wall_ms:.0f} ms wall, {ten.cpu_ms:.0f} ms CPU"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
