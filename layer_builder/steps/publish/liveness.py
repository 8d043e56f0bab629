"""Who holds the publish lock, and whether that process is dead: asked only on its own host.

A lock names its holder by host, pid, the process's start time and (on Linux) its PID
namespace. Another run on the same host and in the same PID namespace can then tell a dead
holder (no such pid, a zombie, or the pid reused by a process started at another time) and
take the lock over at once instead of waiting for it to expire. Anywhere else (another host,
another container, Windows) the answer is "maybe alive", and the lock's time to live decides.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import attrs


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time)`` of ``pid`` from ``/proc/<pid>/stat`` (fields 3 and 22)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 2, the command name, is in parentheses and may hold spaces or parentheses.
    fields = text[text.rfind(")") + 1 :].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


@attrs.frozen
class ProcessId:
    """A process as a lock body names it."""

    host: str
    pid: int
    #: Start time in clock ticks since boot (Linux ``/proc/<pid>/stat`` field 22), or None.
    started: str | None = None
    #: The PID namespace (Linux ``/proc/self/ns/pid``), or None.
    pid_namespace: str | None = None

    @classmethod
    def current(cls) -> ProcessId:
        """This process, as a lock body names it."""
        pid = os.getpid()
        stat = _proc_stat(pid)
        return cls(socket.gethostname(), pid, stat[1] if stat else None, _pid_namespace())

    def to_json(self) -> dict[str, Any]:
        """The process as the lock body stores it."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, document: Any) -> ProcessId | None:
        """The holder a lock body names; None for a body without one (an older version)."""
        if not isinstance(document, dict):
            return None
        host, pid = document.get("host"), document.get("pid")
        started, namespace = document.get("started"), document.get("pid_namespace")
        if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
            return None
        if pid <= 0:
            return None  # os.kill(0 or -1, ...) would mean a whole group of processes
        return cls(
            host,
            pid,
            started if isinstance(started, str) else None,
            namespace if isinstance(namespace, str) else None,
        )

    def describe(self) -> str:
        """The process in words: pid and host."""
        return f"pid {self.pid} on host {self.host}"

    def is_dead(self) -> bool:
        """True only when sure: same host and PID namespace as this process, and no live
        process with this pid started when the lock was taken."""
        if os.name != "posix":
            return False  # Windows: os.kill(pid, 0) would terminate the process
        if self.host != socket.gethostname() or self.pid_namespace != _pid_namespace():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, owned by another user
        except OSError:
            return False
        stat = _proc_stat(self.pid)
        if stat is None:
            return False  # no /proc: the pid is alive, and nothing tells whether it was reused
        state, started = stat
        if state in ("Z", "X"):
            return True  # exited, not yet reaped: it holds nothing any more
        return self.started is not None and started != self.started
