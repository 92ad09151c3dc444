"""The fixtures, judged by real libvirt.

* every clean fixture passes libvirt's schema, ``define --validate`` and the QEMU command-line
  build;
* every defect fixture gets from libvirt the verdict ``expected.toml`` records for it;
* "what is in git is what runs": after ``define``, libvirt's own copy of a clean fixture holds
  exactly the sizes, NUMA layout and nvdimm settings of the file.
"""

from __future__ import annotations

import pytest
from fixture_data import CLEAN, FIXTURES, Defect, load_defects, memory_facts, parse
from libvirt_judge import LibvirtJudge, domain_name

DEFECTS = load_defects()


def _id(path: object) -> str:
    return str(getattr(path, "name", path))


@pytest.mark.parametrize("path", CLEAN, ids=_id)
def test_clean_fixture_passes_the_schema(libvirt_judge: LibvirtJudge, path: object) -> None:
    verdict = libvirt_judge.validate(FIXTURES.joinpath(str(path)).read_bytes())
    assert verdict.ok, verdict.message


@pytest.mark.parametrize("path", CLEAN, ids=_id)
def test_clean_fixture_is_defined(libvirt_judge: LibvirtJudge, path: object) -> None:
    verdict = libvirt_judge.define(FIXTURES.joinpath(str(path)).read_bytes())
    assert verdict.ok, verdict.message


@pytest.mark.parametrize("path", CLEAN, ids=_id)
def test_clean_fixture_builds_a_qemu_command_line(
    libvirt_judge: LibvirtJudge, path: object
) -> None:
    verdict = libvirt_judge.to_native(FIXTURES.joinpath(str(path)).read_bytes())
    assert verdict.ok, verdict.message
    assert "qemu-system-x86_64" in verdict.output


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_defect_verdict_matches_expected_toml(libvirt_judge: LibvirtJudge, defect: Defect) -> None:
    data = defect.path.read_bytes()
    release = libvirt_judge.libvirt_version
    schema = libvirt_judge.validate(data)
    define = libvirt_judge.define(data, validate=True)
    if defect.verdict(release) == "accepts":
        assert schema.ok, schema.message
        assert define.ok, define.message
        native = libvirt_judge.to_native(data)
        assert native.ok, native.message
    else:
        assert defect.verdict(release) == "rejects", f"bad libvirt value {defect.libvirt!r}"
        assert not define.ok, f"libvirt {release} accepted a fixture recorded as rejected"
        message = defect.message(release)
        if message:
            assert message in define.message
    plain_define = defect.plain(release)
    if plain_define is not None:
        plain = libvirt_judge.define(data, validate=False)
        assert plain.ok is (plain_define == "accepts"), plain.message


def _defined_facts(judge: LibvirtJudge, data: bytes) -> tuple[dict[str, object], dict[str, object]]:
    name = domain_name(data)
    assert name is not None
    verdict = judge.define(data)
    assert verdict.ok, verdict.message
    after = memory_facts(parse(judge.dumpxml_inactive(name)))
    return memory_facts(parse(data)), after


@pytest.mark.parametrize("path", CLEAN, ids=_id)
def test_what_is_in_git_is_what_runs(libvirt_judge: LibvirtJudge, path: object) -> None:
    before, after = _defined_facts(libvirt_judge, FIXTURES.joinpath(str(path)).read_bytes())
    assert after == before


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("FX104-memory-not-cells-plus-nvdimm.xml", "memory"),
        ("FX105-current-memory-above-memory.xml", "currentMemory"),
    ],
)
def test_libvirt_silently_rewrites_what_the_warnings_flag(
    libvirt_judge: LibvirtJudge, name: str, field: str
) -> None:
    """Why FX104 and FX105 are warnings: libvirt accepts the file but runs something else."""
    before, after = _defined_facts(libvirt_judge, (FIXTURES / "defects" / name).read_bytes())
    assert before[field] != after[field]
    assert after[field] == after["memory"]
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {field}
