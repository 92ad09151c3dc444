"""The domain-XML half: read a domain, check it against the rule catalog, fix it in its own
style. Independent of the host tools (:mod:`famfs_xml.host`) and of the command line;
device facts arrive through :class:`famfs_xml.core.inventory.DeviceFacts`."""
