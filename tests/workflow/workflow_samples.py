"""Domain XML samples and the CLI result type shared by the workflow tests."""

from __future__ import annotations

import io
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _example(code: str, key: str) -> str:
    with (ROOT / "rules" / f"{code}.toml").open("rb") as handle:
        text: str = tomllib.load(handle)["example"][key]
    return text.lstrip("\n")


# A domain that follows the famfs guide: no finding with the default selection.
CLEAN = _example("FX302", "good")
# The same domain with the nvdimm's access, alignsize and pmem missing: three safe fixes.
BROKEN = (
    CLEAN.replace("<memory model='nvdimm' access='shared'>", "<memory model='nvdimm'>")
    .replace("        <alignsize unit='MiB'>2</alignsize>\n", "")
    .replace("        <pmem/>\n", "")
)
NETWORK = """<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., CliResult]


def text_of(stream: io.TextIOWrapper) -> str:
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return bytes(data).decode("utf-8")
