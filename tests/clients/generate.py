"""Re-create ``fixtures/clients/virt-install/*.xml`` by running virt-install and virt-xml.

Each entry of ``fixtures/clients/virt-install/manifest.toml`` lists the commands a user
types; this script runs them as typed, with two additions that make them work without a
daemon: ``--connect qemu:///embed?root=<scratch dir>`` (libvirt's embedded QEMU driver, so
virt-install sees the real QEMU 7.2 capabilities, UEFI included) and, for each ``virt-xml``
after the first command, the XML so far on standard input. virt-install refuses the embedded
URI without an event loop, so each tool runs in a small wrapper that registers libvirt's.

It needs Debian's ``virtinst`` and ``python3-libvirt`` (run it with ``/usr/bin/python3``)
and is not part of the test suite: the generated files are committed, and the tests judge
those. Usage::

    /usr/bin/python3 tests/clients/generate.py [NAME.xml ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "fixtures" / "clients" / "virt-install"
MANIFEST = FOLDER / "manifest.toml"
PYTHON = "/usr/bin/python3"  # Debian's, with the libvirt bindings virtinst uses

# Runs one virtinst tool with libvirt's default event loop registered and running.
WRAPPER = """
import sys, threading
sys.path.insert(0, "/usr/share/virt-manager")
import libvirt
libvirt.virEventRegisterDefaultImpl()
def _loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=_loop, daemon=True).start()
tool = sys.argv.pop(1)
sys.argv[0] = tool
if tool == "virt-install":
    from virtinst import virtinstall as cli
else:
    from virtinst import virtxml as cli
cli.runcli()
"""


class GenerateError(RuntimeError):
    pass


def run_tool(argv: list[str], uri: str, stdin: str | None, env: dict[str, str]) -> str:
    tool, *args = argv
    if tool not in ("virt-install", "virt-xml"):
        raise GenerateError(f"unknown tool {tool!r}")
    command = [PYTHON, "-c", WRAPPER, tool, "--connect", uri, *args]
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    if result.returncode != 0:
        raise GenerateError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout}")
    return result.stdout


def generate(name: str, commands: list[list[str]], uri: str, env: dict[str, str]) -> str:
    xml: str | None = None
    for argv in commands:
        xml = run_tool(argv, uri, xml, env)
    if xml is None:
        raise GenerateError(f"{name}: no commands")
    return xml


def main(names: list[str]) -> int:
    with MANIFEST.open("rb") as handle:
        manifest = tomllib.load(handle)
    unknown = set(names) - set(manifest)
    if unknown:
        print(f"not in {MANIFEST.name}: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fx-virt-install-") as root:
        (Path(root) / "etc").mkdir()
        (Path(root) / "etc" / "qemu.conf").write_text('user = "root"\ngroup = "root"\n')
        uri = f"qemu:///embed?root={root}"
        env = dict(os.environ, LIBVIRT_LOG_OUTPUTS="4:file:/dev/null", LC_ALL="C")
        for name, entry in manifest.items():
            if names and name not in names:
                continue
            try:
                xml = generate(name, entry["commands"], uri, env)
            except GenerateError as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                return 1
            (FOLDER / name).write_text(xml, encoding="utf-8")
            print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
