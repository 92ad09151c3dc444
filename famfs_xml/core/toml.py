"""The TOML reader, imported only by the functions that read a TOML file: a lint run with
no config file and the packaged rule index never pays for it."""

from __future__ import annotations

import tomllib

__all__ = ["tomllib"]
