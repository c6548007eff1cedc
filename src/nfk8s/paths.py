"""Where nfk8s keeps files on the user's machine: the config file and the cache.

Standard library only: shell completion reads these on every TAB press.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CONFIG_ENV = "NFK8S_CONFIG"


def _xdg(env: Mapping[str, str], name: str, fallback: str) -> Path:
    value = env.get(name)
    # The XDG spec says to ignore a relative path in these variables.
    if value and Path(value).is_absolute():
        return Path(value)
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / fallback


def config_file_path(environ: Mapping[str, str] | None = None) -> tuple[Path, bool]:
    """The user config file and whether it was asked for explicitly (``NFK8S_CONFIG``)."""
    env = os.environ if environ is None else environ
    explicit = env.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser(), True
    return _xdg(env, "XDG_CONFIG_HOME", ".config") / "nfk8s" / "config.toml", False


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/nfk8s``, else ``~/.cache/nfk8s``."""
    env = os.environ if environ is None else environ
    return _xdg(env, "XDG_CACHE_HOME", ".cache") / "nfk8s"
