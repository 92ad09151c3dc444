"""The ``famfs-xml`` command line: the launcher (:mod:`.main`), the single declaration of the
lint and fix options (:mod:`.options`), the typer application (:mod:`.app`) and the thin
command functions. The only layer that prints and exits."""
