"""Asking a running `shiquan serve` on this machine to reload its data: find it, send it SIGHUP, and read the
outcome from its /health ("reload": "last", see :meth:`shiquan.runtime.runtime.Runtime.reload`).

The server is found by its pid file (`shiquan serve --pid-file F`) or as the process listening on its port
(/proc/net/tcp and tcp6, then /proc/<pid>/fd: Linux, and processes of this user only).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from shiquan.errors import BadInput, Conflict, ShiquanError

LISTEN = "0A"  # the state of a listening socket in /proc/net/tcp


def pid_from_file(path: Path) -> int:
    """The pid written in ``path``. Raises BadInput naming the file when it cannot be read or holds no pid."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the pid file: {exc}", str(path)) from exc
    if not text.isdigit():
        raise BadInput(f"no process id in the pid file (found {text[:40]!r})", str(path), 1)
    return int(text)


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on TCP ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def pid_on_port(port: int) -> int:
    """The process listening on TCP ``port`` here. Raises ShiquanError when none of this user's does."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not wanted:
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # gone, or another user's
            continue
        if links & wanted:
            return int(entry.name)
    raise ShiquanError(f"no process of this user listens on port {port}: is `shiquan serve --port {port}` running?")


def _is_server(pid: int) -> bool:
    """Whether process ``pid`` runs `shiquan serve` (its command line names both)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in argv and any(b"shiquan" in arg for arg in argv)


def health(base: str, timeout_s: float = 10.0) -> dict:
    """The /health body of the server at ``base``. Raises ShiquanError when it does not answer with one."""
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=timeout_s) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:  # 503: the body still says why
        try:
            return json.load(exc)
        except ValueError:
            raise ShiquanError(f"{base}/health answered {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise ShiquanError(f"cannot read {base}/health: {exc}") from exc


def ask(pid: int, base: str) -> int:
    """Send SIGHUP to the server ``pid`` serving ``base`` once /health says it can reload; returns the number the
    reload will have. Raises Conflict when it cannot reload (an on-disk or remote store) or is reloading already,
    ShiquanError when ``pid`` is not a `shiquan serve` or is gone."""
    if not _is_server(pid):
        raise ShiquanError(f"process {pid} is not a `shiquan serve`")
    reload = health(base).get("reload") or {}
    if not reload.get("supported"):
        raise Conflict(reload.get("why") or f"the server at {base} cannot reload")
    last = reload.get("last") or {}
    if last.get("status") == "running":
        raise Conflict("a reload is already running")
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise ShiquanError(f"cannot signal process {pid}: {exc}") from exc
    return int(last.get("number") or 0) + 1


def outcome(base: str, number: int, timeout_s: float) -> dict:
    """The outcome of reload ``number`` from /health at ``base`` once it is over. Raises ShiquanError past
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        last = (health(base).get("reload") or {}).get("last") or {}
        if last.get("number") == number and last.get("status") != "running":
            return last
        time.sleep(0.5)
    raise ShiquanError(f"the reload did not finish within {timeout_s:g} s; see the server's log and {base}/health")
