"""Working with the libvirt that is running, rather than with files.

libvirtd keeps its own copy of every persistent domain and writes it back over
``/etc/libvirt/qemu/NAME.xml`` whenever it saves the domain, so a change that is to last
must go through libvirt itself:

* :mod:`~famfs_xml.live.connection`: one connection to libvirt (its Python binding);
* :mod:`~famfs_xml.live.settings`: the memory settings a change is checked by after libvirt
  has taken it;
* :mod:`~famfs_xml.live.domains`: lint, fix, attach and detach over the definitions libvirt
  holds, each change defined with validation, read back, verified and undone on failure;
* :mod:`~famfs_xml.live.hook`: the start-time gate run as libvirt's qemu hook (it never
  calls back into libvirt).

Nothing here prints or exits; :mod:`famfs_xml.cli` does.
"""
