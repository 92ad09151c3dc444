"""Malformed and hostile files: a finding and exit 1, quickly, never a traceback, never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from famfs_xml.fileio import MAX_FILE_BYTES
from tests.conftest import Cli
from tests.samples import GUIDE_VM

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<domain type='kvm'><name>&lol9;</name></domain>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<domain type='kvm'><name>&secret;</name></domain>
"""

HOSTILE = {
    "truncated.xml": GUIDE_VM[: len(GUIDE_VM) // 2].encode(),
    "binary.xml": bytes(range(256)) * 64,
    "latin1-undeclared.xml": GUIDE_VM.replace("f39-dev2", "f39-d\xe9v2").encode("latin-1"),
    "billion-laughs.xml": BILLION_LAUGHS.encode(),
    "external-entity.xml": EXTERNAL_ENTITY.encode(),
    "empty.xml": b"",
    "only-comment.xml": b"<!-- nothing here -->\n",
    "two-roots.xml": b"<domain/><domain/>",
    "bad-encoding-declared.xml": b"<?xml version='1.0' encoding='no-such-codec'?><domain/>",
}

EXPECTED_CODE = {"billion-laughs.xml": "FX003", "external-entity.xml": "FX003"}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_gets_one_finding(cli: Cli, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(HOSTILE[name])
    result = cli("lint", "--format", "json", name, cwd=tmp_path)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f["code"] for f in findings] == [EXPECTED_CODE.get(name, "FX001")]
    assert "root:" not in result.stdout  # /etc/passwd was never read
    fixed = cli("fix", name, cwd=tmp_path)
    assert fixed.exit_code == 1
    assert target.read_bytes() == HOSTILE[name]


def test_entities_are_never_expanded_even_when_asked_to_fix(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_text(EXTERNAL_ENTITY)
    result = cli("fix", "-", stdin=EXTERNAL_ENTITY.encode(), cwd=tmp_path)
    assert "root:x:0:0" not in result.stdout + result.stderr


def test_oversized_file_is_refused_without_reading_it(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "huge.xml"
    with target.open("wb") as handle:
        handle.write(b"<domain>")
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    result = cli("lint", "huge.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "FX001" in result.stdout and "limit" in result.stdout


def test_a_missing_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("lint", str(tmp_path / "missing-dir") + "/")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("option", ["--inventory", "--output"])
def test_a_directory_where_a_file_belongs_is_a_usage_error(cli: Cli, tmp_path: Path,
                                                           option: str) -> None:
    (tmp_path / "vm.xml").write_text(GUIDE_VM)
    result = cli("lint", option, str(tmp_path), "vm.xml", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith("famfs-xml: error: ")
    assert result.stderr.count("\n") == 1


def test_utf16_with_bom_lints(cli: Cli, tmp_path: Path) -> None:
    text = "<?xml version='1.0' encoding='UTF-16'?>\n" + GUIDE_VM.replace(" access='shared'", "")
    (tmp_path / "u16.xml").write_bytes(text.encode("utf-16"))
    result = cli("lint", "u16.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "u16.xml:23:5: FX301" in result.stdout


def test_bad_numbers_are_findings_at_the_element(cli: Cli, tmp_path: Path) -> None:
    text = (GUIDE_VM.replace("<memory unit='GiB'>40</memory>", "<memory unit='GiB'>40G</memory>")
            .replace("<size unit='GiB'>8</size>", "<size unit='GiBB'>8</size>"))
    (tmp_path / "vm.xml").write_text(text)
    result = cli("lint", "vm.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "vm.xml:4:3: FX001 <memory> memory: Invalid value '40G'" in result.stdout
    assert "vm.xml:29:9: FX001 <size> size: unknown suffix 'GiBB'" in result.stdout
    assert "Traceback" not in result.stderr
