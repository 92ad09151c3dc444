"""Debian sid in a directory: today's libvirt, QEMU, ndctl/daxctl and Python beside Debian 12's.

famfs-xml is proven on two stacks. The machine's own Debian 12 gives the oldest (Python 3.11,
libvirt 9.0, QEMU 7.2, ndctl 76); a ``debootstrap`` root of Debian sid gives the newest
(Python 3.14, libvirt 12.x, QEMU 11.x, ndctl/daxctl 85). Nothing is installed on the host:
the root is a directory in a cache, entered with ``chroot``.

* ``python3 tests/sidroot.py build`` makes the root once and keeps it, keyed by the recipe
  below (suite, packages, configuration): the same recipe reuses the same directory. It
  prints the root's path and the versions it holds (``versions.json`` in the root).
* ``python3 tests/sidroot.py run [--bind DIR]... -- CMD...`` runs CMD inside it with
  ``/proc``, ``/sys`` and ``/dev`` bound (libvirt needs all three: without ``/sys`` it refuses
  any ``<numatune>``, without ``/dev`` it cannot build a tap device), and each DIR bound at
  its own path; every mount is undone afterwards, also when CMD fails.
* ``python3 tests/sidroot.py pytest [PYTEST ARGS]`` installs the checkout with its test
  extras into a Python 3.14 venv inside the root and runs pytest there: the unit suite on
  the newest Python, judged by the newest libvirt. The checkout and the directories that
  ``FAMFS_XML_*`` variables name are bound at their own paths, so the tests find them as
  on the host.
* ``python3 tests/sidroot.py venv`` does only the installing part of ``pytest``: the guest
  tier's Linux 7.2 guests run famfs-xml in this venv.
* ``python3 tests/sidroot.py remove`` unmounts what is left and deletes the root.

The cache is ``$FAMFS_XML_SID_CACHE``, else ``~/.cache/famfs-xml/sid``. A root is removed
only after checking that nothing is mounted below it, and with ``rm --one-file-system``: a
``/dev`` or ``/sys`` bound into it must never be reached.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_ENV = "FAMFS_XML_SID_CACHE"
SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

#: Installed after debootstrap: debootstrap's own --include fails on libvirt (systemd's
#: pre-dependencies). QEMU 11's spice support is a module package of its own; without it a
#: domain with <graphics type='spice'> is refused. gcc, pkg-config, libvirt-dev and
#: python3-dev build libvirt's Python binding for the venv.
PACKAGES = (
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "libvirt-dev",
    "qemu-system-x86",
    "qemu-system-modules-spice",
    "ovmf",
    "libxml2-utils",
    "daxctl",
    "ndctl",
    "python3",
    "python3-venv",
    "python3-dev",
    "pkg-config",
    "gcc",
    "acl",
    "git",
    "ca-certificates",
)

#: QEMU runs as root (only root may open /dev/kvm here), and without a mount namespace of its
#: own: inside a chroot the root is no mount point, and libvirt's namespace set-up fails with
#: "Failed disable mount propagation out of the root filesystem".
QEMU_CONF = 'user = "root"\ngroup = "root"\nnamespaces = [ ]\n'

#: The venv the unit suite runs in, inside the root (readable by every user, as on the host).
VENV = "/opt/famfs-xml-ci"
HOST_CA = "/etc/famfs-xml-host-ca.crt"  # the host's CA bundle: PyPI answers through it
BOUND = ("proc", "sys", "dev")
#: What ``run`` passes on from the caller's environment.
PASSED_ON = ("CI", "TERM", "COLUMNS")
PASSED_PREFIX = "FAMFS_XML_"

RECIPE_VERSION = "1"


class SidRootUnavailable(RuntimeError):
    """The root cannot be built or entered here (not root, no debootstrap, no mirror)."""


def cache_dir() -> Path:
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "famfs-xml" / "sid"


def recipe_key() -> str:
    """The recipe's digest: a change to it builds a new root instead of reusing the old."""
    recipe = "\0".join([RECIPE_VERSION, SUITE, *PACKAGES, QEMU_CONF, VENV])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def root_path(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / f"root-{recipe_key()}"


def mirror() -> str:
    """The machine's own Debian mirror, as its apt sources name it."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.is_file():
        for line in sources.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:"):
                return line.split(":", 1)[1].split()[0]
    return DEFAULT_MIRROR


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "debootstrap, chroot and mount need root"
    missing = [
        tool for tool in ("debootstrap", "chroot", "mount", "umount") if not shutil.which(tool)
    ]
    if missing:
        return f"{', '.join(missing)} missing: apt-get install debootstrap"
    return None


# -- mounts ------------------------------------------------------------------------------------


def mounts_below(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first (from /proc/self/mountinfo)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_all(path: Path) -> None:
    """Undo every mount below ``path``; raise if one stays."""
    for point in mounts_below(path):
        subprocess.run(["umount", "-R", str(point)], check=False, capture_output=True)
    for point in mounts_below(path):  # busy: detach it, it goes once its last user does
        subprocess.run(["umount", "-R", "-l", str(point)], check=False, capture_output=True)
    left = mounts_below(path)
    if left:
        raise SidRootUnavailable(f"still mounted under {path}: {', '.join(map(str, left))}")


@contextlib.contextmanager
def bound(root: Path, extra: Sequence[Path] = ()) -> Iterator[None]:
    """``/proc``, ``/sys``, ``/dev`` and each of ``extra`` bound into ``root``, then undone."""
    unmount_all(root)  # what an earlier run that was killed may have left
    try:
        for name in BOUND:
            target = root / name
            target.mkdir(exist_ok=True)
            subprocess.run(["mount", "--rbind", f"/{name}", str(target)], check=True)
            subprocess.run(["mount", "--make-rslave", str(target)], check=True)
        for directory in extra:
            if directory.resolve() == Path("/") or root.resolve().is_relative_to(directory):
                raise SidRootUnavailable(f"{directory} holds the root: it cannot be bound into it")
            target = root / directory.resolve().relative_to("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(directory.resolve()), str(target)], check=True)
        yield
    finally:
        unmount_all(root)


@contextlib.contextmanager
def locked(cache: Path) -> Iterator[None]:
    """One user of the cache at a time: builds and runs mount into the same root."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_tree(path: Path) -> None:
    """Delete a root: unmounted first, and never across a file system boundary."""
    if not path.exists():
        return
    unmount_all(path)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


# -- building ----------------------------------------------------------------------------------


def _chroot_env() -> dict[str, str]:
    env = {
        "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "SSL_CERT_FILE": HOST_CA,
        "PIP_CERT": HOST_CA,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name, value in os.environ.items():
        if name in PASSED_ON or name.startswith(PASSED_PREFIX):
            env[name] = value
    return env


def _in_root(
    root: Path, args: Sequence[str], *, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """``args`` run in the root with a clean environment (the host's pip settings stay out)."""
    env = [f"{name}={value}" for name, value in _chroot_env().items()]
    return subprocess.run(
        ["chroot", str(root), "env", "-i", *env, *args],
        capture_output=capture,
        text=True,
        check=False,
    )


def _step(what: str, args: Sequence[str]) -> None:
    print(f"sidroot: {what}", file=sys.stderr, flush=True)
    result = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SidRootUnavailable(f"{what} failed: {' | '.join(tail)}")


def _configure(root: Path) -> None:
    """What the root needs before packages go in: no services, names, the host's CAs."""
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n", encoding="utf-8")
    policy.chmod(0o755)
    shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")
    bundle = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    shutil.copyfile(bundle, root / HOST_CA.lstrip("/"))


def versions(root: Path) -> dict[str, str]:
    """The versions the root holds, from dpkg and the tools themselves."""
    record = root / "versions.json"
    if record.is_file():
        data: dict[str, str] = json.loads(record.read_text(encoding="utf-8"))
        return data
    return {}


def _read_versions(root: Path) -> dict[str, str]:
    packages = {
        "libvirt": "libvirt-daemon",
        "qemu": "qemu-system-x86",
        "daxctl": "daxctl",
        "ndctl": "ndctl",
        "python3": "python3",
    }
    found = {}
    for name, package in packages.items():
        result = _in_root(root, ["dpkg-query", "-W", "-f", "${Version}", package], capture=True)
        found[name] = result.stdout.strip()
    python = ["python3", "-c", "import platform; print(platform.python_version())"]
    found["python"] = _in_root(root, python, capture=True).stdout.strip()
    return found


def build(cache: Path | None = None) -> Path:
    """The root for the current recipe, made if it is not in the cache yet."""
    reason = unavailable_reason()
    if reason is not None:
        raise SidRootUnavailable(reason)
    cache = cache or cache_dir()
    root = root_path(cache)
    with locked(cache):
        if (root / "versions.json").is_file():
            return root
        staging = root.with_name(root.name + ".part")
        remove_tree(staging)
        for old in cache.glob("root-*"):  # other recipes' roots: a cache keeps one
            remove_tree(old)
        _step(
            f"debootstrap {SUITE} into {staging}",
            ["debootstrap", "--variant=minbase", SUITE, str(staging), mirror()],
        )
        _configure(staging)
        with bound(staging):
            install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
            print(f"sidroot: apt-get install {' '.join(PACKAGES)}", file=sys.stderr, flush=True)
            result = _in_root(staging, install, capture=True)
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
                raise SidRootUnavailable(
                    f"apt-get install in the sid root failed: {' | '.join(tail)}"
                )
            _in_root(staging, ["apt-get", "clean"])
            (staging / "etc" / "libvirt" / "qemu.conf").write_text(QEMU_CONF, encoding="utf-8")
            found = _read_versions(staging)
        (staging / "versions.json").write_text(json.dumps(found, indent=2) + "\n", "utf-8")
        staging.rename(root)
    return root


# -- running -----------------------------------------------------------------------------------


def run(args: Sequence[str], binds: Sequence[Path] = (), cache: Path | None = None) -> int:
    """Run ``args`` in the root with /proc, /sys, /dev and ``binds`` bound; its exit code."""
    cache = cache or cache_dir()
    root = root_path(cache)
    if not (root / "versions.json").is_file():
        raise SidRootUnavailable(f"no sid root in {cache}: run `python3 tests/sidroot.py build`")
    with locked(cache), bound(root, binds):
        return _in_root(root, args).returncode


def shared_dirs() -> list[Path]:
    """The checkout, and the data the tests are pointed at by ``FAMFS_XML_*`` variables
    (corpora, schemas): the directories bound so that the same paths work inside."""
    found = [REPO]
    for name, value in sorted(os.environ.items()):
        # the caches (this root's own among them) are the host's business, not the tests'
        if not name.startswith(PASSED_PREFIX) or name.endswith("_CACHE") or value[:1] != "/":
            continue
        path = Path(value)
        directory = path if path.is_dir() else path.parent
        if directory.is_dir() and not any(directory.is_relative_to(d) for d in found):
            found = [d for d in found if not d.is_relative_to(directory)] + [directory]
    return found


def _install_lines() -> str:
    return (
        f"cd {shlex.quote(str(REPO))}\n"
        f"[ -x {VENV}/bin/python ] || python3 -m venv {VENV}\n"
        f"{VENV}/bin/python -m pip install -q '.[test,libvirt]'\n"
        f"{VENV}/bin/python -m famfs_xml --version\n"
    )


def venv_command() -> list[str]:
    """The shell command that installs the checkout, with its dependencies, into the venv:
    what the Linux 7.2 guests of the guest tier run famfs-xml with (over 9p)."""
    return ["sh", "-ec", _install_lines()]


def pytest_command(pytest_args: Sequence[str]) -> list[str]:
    """The shell command that installs the checkout into the venv and runs pytest there."""
    quoted = " ".join(shlex.quote(arg) for arg in pytest_args)
    return ["sh", "-ec", _install_lines() + f"exec {VENV}/bin/python -m pytest {quoted}"]


USAGE = """usage: python3 tests/sidroot.py COMMAND
  build                          make the root (or reuse it); print its path and versions
  path                           print the root's path (it may not exist yet)
  run [--bind DIR]... -- CMD...  run CMD inside the root
  pytest [PYTEST ARGS]           the unit suite on the root's Python and libvirt
  venv                           install the checkout into the root's venv (as pytest does)
  remove                         unmount and delete the root"""


def _run_args(args: list[str]) -> tuple[list[Path], list[str]]:
    binds = []
    while args[:1] == ["--bind"] and len(args) > 1:
        binds.append(Path(args[1]))
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    return binds, args or ["sh"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = (args[0], args[1:]) if args else ("", [])
    try:
        if command == "path" and not rest:
            print(root_path())
        elif command == "remove" and not rest:
            with locked(cache_dir()):
                remove_tree(root_path())
        elif command == "build" and not rest:
            root = build()
            print(root)
            print(json.dumps(versions(root), sort_keys=True))
        elif command == "run":
            binds, cmd = _run_args(rest)
            return run(cmd, binds)
        elif command == "pytest":
            return run(pytest_command(rest), shared_dirs())
        elif command == "venv" and not rest:
            return run(venv_command(), [REPO])
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except (SidRootUnavailable, subprocess.CalledProcessError, OSError) as exc:
        print(f"sidroot: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
