"""Defence in depth for query workers: a worker that needs no network gets none.

With an empty SERVICE_ALLOWLIST (the default) or a remote store, nothing a worker runs (queries on the embedded
store, validation, dumps) needs a socket beyond the pipe to its parent. Such a worker enters a network namespace of
its own as it starts: it holds only a loopback interface that is down, so the engine cannot connect anywhere, even
should the SERVICE guard in :mod:`shiquan.sparql.text` miss a call ("Network is unreachable" in 0.1 ms). The pipe
to the parent is a file descriptor and keeps working.

Linux only: unshare(CLONE_NEWNET) as root (or with CAP_SYS_ADMIN), else in a new user namespace as well when the
kernel allows unprivileged ones; elsewhere the worker runs as before, and the guard alone holds.
"""

from __future__ import annotations

import ctypes
import logging
import os

from shiquan.runtime.remote import store_url

log = logging.getLogger(__name__)

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def _unshare(flags: int) -> int:
    """unshare(2) with ``flags``; 0 on success, else the errno."""
    if hasattr(os, "unshare"):  # Python 3.12+
        try:
            os.unshare(flags)
        except OSError as exc:
            return exc.errno or -1
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return -1
    return 0 if libc.unshare(flags) == 0 else ctypes.get_errno()


def without_network() -> bool:
    """Move this process (its calling thread and the threads it starts) into a new, empty network namespace.

    Returns whether it did; never raises. Call it in a worker right after it starts, before it opens any socket.
    A new user namespace needs a single-threaded process: a worker forked by the keeper is one.
    """
    if not hasattr(ctypes, "CDLL") or not os.path.exists("/proc/self/ns/net"):
        return False
    for flags in (CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWNET):
        error = _unshare(flags)
        if error == 0:
            return True
    log.warning("a worker could not leave the network (unshare: %s): the SERVICE guard alone holds", os.strerror(error))
    return False


def needs_network(settings) -> bool:
    """Whether the workers of ``settings`` make network calls: only queries on the embedded store whose SERVICE
    calls go to an allowlisted endpoint (through this server's relay, on loopback)."""
    return bool(settings.get("SERVICE_ALLOWLIST")) and store_url(settings) is None
