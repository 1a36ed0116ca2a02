"""Child processes that never outlive this one, however it ends (a SIGKILL too)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCHDOG = ("import os, signal, sys\n"
             "sys.stdin.buffer.read()  # returns at end of file: when the parent is gone\n"
             "os.kill(int(sys.argv[1]), signal.SIGTERM)\n")


def death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the kernel SIGTERM the child when this thread ends; or None.

    Linux only (``prctl(PR_SET_PDEATHSIG)``), and only from the main thread: the kernel ties
    the signal to the thread that forked, and the main thread lasts as long as the process.
    Between fork and exec the child runs nothing else: one foreign call and ``getppid``, no
    lock another thread could hold. Elsewhere, ``watch`` does the job from a process of its
    own (a Python interpreter more: the cost of portability).
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
            threading.main_thread()):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
    return arm


def watch(pid: int) -> subprocess.Popen[bytes]:
    """A watchdog process that SIGTERMs ``pid`` once this process is gone (portable).

    It waits for the end of a pipe only this process writes to, which the OS closes however
    this process ends (a SIGKILL too). Its own session keeps a terminal's Ctrl-C off it.
    """
    return subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(pid)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
