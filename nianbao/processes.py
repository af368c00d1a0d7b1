"""The one way nianbao stops a child process it started: the child was started in a process group of its own
(``start_new_session=True``), so the whole group is killed, converters and workers the child started included."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group; if the group is gone or not ours, kill the child alone. The caller
    reaps it (``wait`` or ``communicate``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
