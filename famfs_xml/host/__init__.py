"""The host and guest half: dax devices and pmem namespaces from sysfs and ndctl, mode
conversion over daxctl/ndctl with pre-flight and verification, and the host checks
(FH…). Independent of the domain-XML linter (:mod:`famfs_xml.lint`) and of the command line."""
