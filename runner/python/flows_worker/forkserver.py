"""The warm fork server: one per runner, forks one worker process per execution.

Starting an interpreter and importing flow_api costs tens of milliseconds; a fork of a process
that has already done so costs a fraction of one. Protocol: docs/worker-protocol.md
("Processes"). Single-threaded on purpose, so that fork() is safe: stdin commands and SIGCHLD
(through signal.set_wakeup_fd) are multiplexed with one selector.
"""

if __name__ == "__main__" and not __package__:
    # Started as a script: import our packages from the folder above, and keep this folder's
    # module names (worker, loader, ...) out of the way of the flows' own imports.
    import os as _os
    import sys as _sys

    _sys.path[0] = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))

import gc
import json
import os
import re
import selectors
import signal
import sys

# Everything a worker needs, imported once here so that no child imports anything on its start
# path; the list also covers what flows use most (HTTP, SQLite, subprocesses, threads).
import socket  # noqa: F401
import sqlite3  # noqa: F401
import subprocess  # noqa: F401
import threading  # noqa: F401
import traceback
import urllib.request  # noqa: F401

import flow_api  # noqa: F401
import flows_worker.connectors  # noqa: F401
from flows_worker import capture, loader, pool, wire, worker


_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024

# The runner writes {"cmd":"spawn","execution_id":"…","job":…}: the id of a command that cannot
# be parsed is still found, so that its execution fails instead of waiting forever.
_EXECUTION_ID = re.compile(rb'\s*\{\s*"cmd"\s*:\s*"spawn"\s*,\s*"execution_id"\s*:\s*"([\w-]{1,100})"')


def _describe(exc):
    return str(exc) if isinstance(exc, wire.TooDeep) else f"{type(exc).__name__}: {exc}"


def _own_group(pid):
    """Make worker ``pid`` (0: this process) lead a process group of its own: everything the
    flow starts joins it, so the runner can signal or kill the execution's processes at once."""
    try:
        os.setpgid(pid, pid if pid else 0)
    except OSError:
        pass  # the child did it first (or has exited already)


_PEEK = hasattr(os, "waitid") and hasattr(os, "WNOWAIT")


def _reap_one():
    """``(pid, status)`` of a child that has ended, after killing what is left of its process
    group; ``(0, 0)`` if none has ended. Until reaped the worker is a zombie, so its pid (= its
    group's id) cannot have been reused by an unrelated process when the group is killed."""
    if _PEEK:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is None or not info.si_pid:
            return 0, 0
        _kill_group(info.si_pid)
        return os.waitpid(info.si_pid, 0)  # it has ended: this does not block
    pid, status = os.waitpid(-1, os.WNOHANG)
    if pid:
        _kill_group(pid)  # reaped already: a short window in which the pid could be reused
    return pid, status


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass  # no process left in the group


class ForkServer:
    """Reads spawn commands on stdin, reports spawned/exited on stdout."""

    def __init__(self):
        self._children = {}  # pid -> execution_id
        self._devnull = os.open(os.devnull, os.O_RDWR)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(0, selectors.EVENT_READ, self._read_commands)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._reap)
        self._pending = b""

    def serve(self):
        # A Python-level handler is needed for the wakeup fd to be written; the work happens
        # in the loop, never inside the handler.
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self._wake_w)
        capture.install_spawn_hooks()
        # Objects that exist now are never collected: the GC then never touches (and so never
        # copies) their pages in the children.
        gc.freeze()
        v = sys.version_info
        self._emit({"event": "ready", "pid": os.getpid(), "python": f"{v.major}.{v.minor}.{v.micro}"})
        while True:
            for key, _ in self._selector.select():
                if key.data() is False:
                    return

    # ----- stdin --------------------------------------------------------------------------

    def _read_commands(self):
        data = os.read(0, 65536)
        if not data:
            return False  # the runner is gone or closed our stdin: exit, children live on
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            if line.strip() and self._command(line) is False:
                return False
        return True

    def _command(self, line):
        # Nothing a command line holds may end the fork server: a line it cannot read (not
        # JSON, nested too deep, not an object) fails the one execution it names, if any.
        try:
            command = wire.loads(line)
            cmd = command.get("cmd")
        except Exception as exc:  # noqa: BLE001 - ValueError, TooDeep, AttributeError, ...
            event = {"event": "error", "message": f"cannot read the spawn command: {_describe(exc)}"}
            match = _EXECUTION_ID.match(line)
            if match:
                event["execution_id"] = match.group(1).decode("utf-8", "replace")
            else:
                event["message"] = f"not a JSON command ({_describe(exc)}): {line[:200]!r}"
            self._emit(event)
            return True
        if cmd == "spawn":
            self._spawn(command)
        elif cmd == "pool":
            self._spawn_pooled(command)
        elif cmd == "shutdown":
            return False
        else:
            self._emit({"event": "error", "message": f"unknown command {cmd!r}"})
        return True

    def _spawn(self, command):
        try:
            self._spawn_job(command)
        except Exception as exc:  # noqa: BLE001 - one bad job must not end the fork server
            execution_id = command.get("execution_id")
            event = {"event": "error", "message": f"cannot start the execution: {_describe(exc)}"}
            if isinstance(execution_id, str):
                event["execution_id"] = execution_id
            self._emit(event)

    def _spawn_job(self, command):
        job = command.get("job")
        execution_id = str(command.get("execution_id") or (job or {}).get("execution_id") or "")
        if not isinstance(job, dict) or not execution_id:
            message = "spawn needs execution_id and a job object"
            self._emit({"event": "error", "message": message, "execution_id": execution_id})
            return
        job.setdefault("execution_id", execution_id)
        if loader.precompile(job):
            gc.freeze()  # the new code objects, too, are never collected (see serve)
        try:
            pid = os.fork()
        except OSError as exc:
            self._emit({"event": "error", "message": f"cannot fork: {exc}", "execution_id": execution_id})
            return
        if pid == 0:
            self._child(job)  # never returns
        _own_group(pid)  # here too: the runner may signal the group before the child runs
        self._children[pid] = execution_id
        self._emit({"event": "spawned", "execution_id": execution_id, "pid": pid})

    def _spawn_pooled(self, command):
        """Fork a pooled worker (pool.py): it connects to the runner and waits for jobs. Its
        spawned/exited events carry its worker id where a worker's carry an execution id."""
        worker_id = command.get("execution_id")
        options = command.get("options") or {}
        if not isinstance(worker_id, str) or not worker_id or not isinstance(options, dict):
            self._emit({"event": "error", "message": "pool needs a worker id (execution_id) and options"})
            return
        try:
            pid = os.fork()
        except OSError as exc:
            self._emit({"event": "error", "message": f"cannot fork: {exc}", "execution_id": worker_id})
            return
        if pid == 0:
            self._child(None, lambda: pool.serve(worker_id, options))  # never returns
        _own_group(pid)
        self._children[pid] = worker_id
        self._emit({"event": "spawned", "execution_id": worker_id, "pid": pid})

    def _child(self, job, serve=None):
        code = 70
        try:
            _own_group(0)
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # The fork server's stdin and stdout belong to the runner's command pipe: a child
            # must neither read commands nor write into the event stream. fd 2 stays the fork
            # server's stderr until the worker captures it, so a crash before that is visible.
            os.dup2(self._devnull, 0)
            os.dup2(self._devnull, 1)
            # Everything else is the fork server's (selector, wakeup pipe) or was inherited
            # from whoever started it; a long-running worker must not hold such pipes open.
            os.closerange(3, _MAX_FD)
            code = serve() if serve is not None else worker.run(job)
        except BaseException:  # noqa: BLE001 - report anything, then always _exit below
            try:
                traceback.print_exc()
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)

    # ----- children ------------------------------------------------------------------------

    def _reap(self):
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                # Whatever the flow started and left running ends with its execution.
                pid, status = _reap_one()
            except ChildProcessError:
                return True
            if pid == 0:
                return True
            execution_id = self._children.pop(pid, None)
            if execution_id is None:
                continue
            if os.WIFSIGNALED(status):
                code, sig = None, os.WTERMSIG(status)
            else:
                code, sig = os.WEXITSTATUS(status), None
            self._emit(
                {"event": "exited", "execution_id": execution_id, "pid": pid, "code": code, "signal": sig}
            )

    def _emit(self, event):
        data = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
        while data:
            data = data[os.write(1, data) :]


if __name__ == "__main__":
    ForkServer().serve()
