"""Child processes that cannot outlive the process that started them.

Inputs: the signal a child should receive when its parent dies. Outputs: a ``preexec_fn`` for
``subprocess.Popen``. Guarantee (Linux): if `safeguard up` is killed outright (kill -9), its
workers and embedded broker are signalled too, instead of running on as orphans. Spawn from
the main thread only: the kernel ties the signal to the spawning thread's exit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def _set() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return _set
