"""The TOML reader, imported only by the functions that read a TOML file: a lint run with
no config file and the packaged rule index never pays for it."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["tomllib"]
