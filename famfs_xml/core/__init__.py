"""The shared leaves both halves build on: libvirt size units, safe file I/O, findings, and the
facts about backing devices. Nothing here imports anything else of famfs_xml."""
