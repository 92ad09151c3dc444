"""famfs-xml: lint and fix libvirt domains that share a famfs memory device."""

__version__ = "0.1.0"
