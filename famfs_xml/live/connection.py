"""One connection to libvirt, through libvirt's Python binding.

The binding, rather than ``virsh``, because a change is a sequence on one connection (read,
define, read back, perhaps define the old definition again) whose failures must be told
apart: the binding reports them as error codes, where virsh gives translated text on stderr
and would need a temporary file (holding secrets such as a VNC password) for each define.

The binding is an optional dependency (``pip install 'famfs-xml[libvirt]'``, which builds
against libvirt's C library); :func:`connect` turns its absence, like an unreachable URI,
into a :class:`LiveError`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol, cast

from famfs_xml.core.libvirt_version import LibvirtTarget, LibvirtVersion, TargetSource

if TYPE_CHECKING:
    from types import ModuleType


class LiveError(Exception):
    """libvirt cannot be used as asked; the message is one line for the user (exit 2)."""


class DefineRefused(Exception):
    """libvirt refused a definition; the message is libvirt's, on one line."""


class Hypervisor(Protocol):
    """What famfs-xml asks of libvirt (the binding's connection, or a test's stand-in)."""

    @property
    def uri(self) -> str: ...

    def names(self) -> list[str]:
        """Every domain's name: persistent ones, and running transient ones."""
        ...

    def definition(self, name: str) -> bytes:
        """The persistent definition (a transient domain's running one) with secrets."""
        ...

    def is_running(self, name: str) -> bool: ...

    def is_persistent(self, name: str) -> bool: ...

    def define(self, xml: bytes) -> None:
        """Define (or redefine) a domain, validated against libvirt's schema."""
        ...

    def libvirt_version(self) -> LibvirtVersion | None:
        """The release of the libvirt that holds the domains (None: it does not say)."""
        ...

    def close(self) -> None: ...


def daemon_release(hypervisor: Hypervisor) -> LibvirtTarget | None:
    """The daemon's own release as a run's target (None when it does not say)."""
    version = hypervisor.libvirt_version()
    return None if version is None else LibvirtTarget(version, TargetSource.CONNECT)


BINDING_MISSING = (
    "--connect needs libvirt's Python binding: pip install 'famfs-xml[libvirt]' "
    "(it builds against libvirt's C library: apt-get install libvirt-dev pkg-config gcc)"
)


def installed_binding() -> ModuleType | None:
    """libvirt's Python binding, or None when it is not installed."""
    try:
        import libvirt
    except ImportError:
        return None
    # A directory named libvirt on sys.path (a test suite's, say) imports as an empty
    # namespace package where the binding is missing: only the binding has the API.
    return cast("ModuleType", libvirt) if hasattr(libvirt, "openAuth") else None


def _binding() -> ModuleType:
    libvirt = installed_binding()
    if libvirt is None:
        raise LiveError(BINDING_MISSING)
    # The binding's default handler prints every error on stderr besides raising it.
    libvirt.registerErrorHandler(lambda _context, _error: None, None)
    return libvirt


def one_line(error: Exception) -> str:
    """libvirt's message of ``error`` on one line (schema errors span several)."""
    getter = getattr(error, "get_error_message", None)
    text = getter() if callable(getter) else None
    lines = str(text or error).strip().splitlines()
    return "; ".join(line.strip() for line in lines if line.strip())


def connect(uri: str) -> Hypervisor:
    """A connection to the libvirt at ``uri``; :class:`LiveError` when there is none."""
    libvirt = _binding()
    try:
        connection = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise LiveError(f"cannot connect to {uri}: {one_line(exc)}") from None
    return _Connection(libvirt, connection, uri)


class _Connection:
    """:class:`Hypervisor` over the binding."""

    def __init__(self, libvirt: ModuleType, connection: Any, uri: str) -> None:
        self._libvirt = libvirt
        self._connection = connection
        self._uri = uri

    @property
    def uri(self) -> str:
        return self._uri

    def _domain(self, name: str) -> Any:
        libvirt = self._libvirt
        try:
            return self._connection.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise LiveError(f"{self._uri} has no domain named {name!r}") from None
            raise LiveError(f"{self._uri}: {name}: {one_line(exc)}") from None

    def _ask(self, name: str, question: str, *args: Any) -> Any:
        domain = self._domain(name)
        try:
            return getattr(domain, question)(*args)
        except self._libvirt.libvirtError as exc:
            raise LiveError(f"{self._uri}: {name}: {one_line(exc)}") from None

    def names(self) -> list[str]:
        try:
            domains = self._connection.listAllDomains(0)
        except self._libvirt.libvirtError as exc:
            raise LiveError(f"{self._uri}: cannot list the domains: {one_line(exc)}") from None
        return sorted(str(domain.name()) for domain in domains)

    def definition(self, name: str) -> bytes:
        libvirt = self._libvirt
        flags = libvirt.VIR_DOMAIN_XML_SECURE
        if self.is_persistent(name):
            flags |= libvirt.VIR_DOMAIN_XML_INACTIVE
        return str(self._ask(name, "XMLDesc", flags)).encode("utf-8")

    def is_running(self, name: str) -> bool:
        return bool(self._ask(name, "isActive"))

    def is_persistent(self, name: str) -> bool:
        return bool(self._ask(name, "isPersistent"))

    def define(self, xml: bytes) -> None:
        libvirt = self._libvirt
        try:
            self._connection.defineXMLFlags(xml.decode("utf-8"), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        except libvirt.libvirtError as exc:
            raise DefineRefused(one_line(exc)) from None

    def libvirt_version(self) -> LibvirtVersion | None:
        # the daemon's release (a remote one's through a remote URI), not this library's
        try:
            number = int(self._connection.getLibVersion())
        except self._libvirt.libvirtError:
            return None
        return LibvirtVersion.from_number(number)

    def close(self) -> None:
        with contextlib.suppress(self._libvirt.libvirtError):  # already gone: closed
            self._connection.close()
