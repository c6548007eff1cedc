"""A private directory for the credentials the Kubernetes client must hand over as files.

OpenSSL loads a client certificate and key only from files, so the client writes a
kubeconfig's ``client-key-data`` to disk. By default that is the shared system temp
directory, removed only by an ``atexit`` hook that SIGTERM and SIGKILL skip. nfk8s points
the client at ``<runtime or cache dir>/nfk8s/credentials/<pid>-*`` (mode 0700) instead,
removes that directory on every exit it can see (normal exit, exceptions, SIGTERM, SIGHUP)
and sweeps the directories of dead processes at the next start, which covers SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import stat
from collections.abc import Mapping
from pathlib import Path

from nfk8s.errors import BadInput
from nfk8s.paths import cache_dir

_PRIVATE = 0o700
_created: list[Path] = []


def base_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_RUNTIME_DIR/nfk8s/credentials`` (a per-user tmpfs), else the cache dir's."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and Path(runtime).is_dir():
        return Path(runtime) / "nfk8s" / "credentials"
    return cache_dir(env) / "credentials"


def private_dir(environ: Mapping[str, str] | None = None) -> Path:
    """This process's directory for credential files, removed when it exits.

    Only its 0700 parent is created here; the client creates the directory itself when a
    kubeconfig needs a file (``client-key-data``), so most commands leave nothing behind.
    """
    if _created:
        return _created[0]
    base = base_dir(environ)
    try:
        base.mkdir(parents=True, mode=_PRIVATE, exist_ok=True)
        info = base.lstat()
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise BadInput(
                f"{base} is not a directory", hint="remove it; nfk8s keeps credential files there"
            )
        if info.st_uid != os.getuid():
            raise BadInput(
                f"{base} belongs to another user",
                hint="remove it, or set XDG_RUNTIME_DIR or XDG_CACHE_HOME to a directory of yours",
            )
        if stat.S_IMODE(info.st_mode) != _PRIVATE:
            base.chmod(_PRIVATE)
    except OSError as exc:
        raise BadInput(
            f"cannot create a private directory for credentials in {base}: {exc.strerror}",
            hint="make it writable, or set XDG_RUNTIME_DIR or XDG_CACHE_HOME elsewhere",
        ) from None
    sweep(base)
    path = base / f"{os.getpid()}-{secrets.token_hex(4)}"
    atexit.register(remove_all)
    _install_signal_cleanup()
    _created.append(path)
    return path


def remove_all() -> None:
    """Delete every credential directory this process made."""
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)


def sweep(base: Path) -> list[Path]:
    """Remove the directories of processes that are gone (killed before they could clean)."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            pid_text = entry.name.split("-", 1)[0]
            if not pid_text.isdigit() or _alive(int(pid_text)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def _install_signal_cleanup() -> None:
    """Clean up on SIGTERM and SIGHUP, then die of the signal as before."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(signum) is not signal.SIG_DFL:
                continue  # someone already handles it, and exits through atexit
            signal.signal(signum, _die)
        except ValueError:  # not the main thread: atexit still covers normal exits
            return


def _die(signum: int, frame: object) -> None:
    remove_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
