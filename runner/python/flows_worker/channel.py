"""The worker's socket to the runner (docs/worker-protocol.md, "Worker ↔ runner socket").

Any thread may send and make calls. One I/O thread reads the socket (replies, resume) and the
pipes behind fd 1 and 2 (output of subprocesses and C code). It is started only when needed —
the first call, pause or started process (see capture.py) — because a trivial flow that only
logs and returns never reads anything, and a thread start is the largest cost on its path.
"""

import _thread
import itertools
import os
import re
import selectors
import signal
import socket

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from flow_api.exceptions import FlowApiError
from flows_worker.wire import MAX_WIRE_DEPTH, TooDeep, check_depth, dumps, error_from_reply, loads

# Log lines longer than this are cut: one runaway print must not become a 100 MB message.
MAX_LOG_LINE = 64 * 1024

# Windows' select() takes sockets only: there each pipe gets a thread doing blocking reads (the
# no-fork path, where start cost matters less).
PIPES_SELECTABLE = os.name != "nt"


def connect(address):
    """A connected socket to FLOWS_WORKER_ADDRESS (a Unix socket path or tcp:HOST:PORT)."""
    if address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        sock = socket.create_connection((host, int(port)))
        # Calls are small request/response pairs: Nagle would add 40 ms to each.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    return sock


class Channel:
    """JSON lines to the runner, requests with ids, and the I/O thread that reads answers."""

    def __init__(self, sock):
        self._sock = sock
        # Plain locks serve as one-shot signals (acquired by the waiter, released by the I/O
        # thread) instead of threading.Event: building Events runs Python code of the threading
        # module, and every page it touches is copied in the forked child.
        self._send_lock = _thread.allocate_lock()
        self._ids = itertools.count(1)
        self._pending = {}  # call id -> [signal lock, reply or None]
        self._resume = None  # signal lock while the flow is paused
        self._lost = False
        self._ending = False
        self._pipes = {}  # read fd -> [stream name, bytes not yet ending in a newline]
        self._drained = None  # signal lock, released when the pipes reached EOF
        self._io_lock = _thread.allocate_lock()
        self._io_started = False
        self._io_allowed = True  # until the execution ends
        self._io_done = _signal()  # released when the I/O thread has returned
        #: Called (once, under the I/O lock) just before the I/O thread starts.
        self.before_io_start = None
        #: Message type -> callable(message) for runner messages other than reply and resume
        #: (``debug`` for the debugger; called on the I/O thread).
        self.handlers = {}

    # ----- writing -------------------------------------------------------------------------

    def _write(self, data):
        with self._send_lock:
            self._sock.sendall(data)

    def send(self, message):
        """Send one message (serialised before anything is written, so a TypeError is clean)."""
        self._write((dumps(message) + "\n").encode("utf-8"))

    def log(self, stream, text):
        """Send ``text`` as log lines of ``stream`` (one message per line, one write)."""
        lines = text.split("\n")
        self._write(
            "".join(
                dumps({"type": "log", "stream": stream, "text": line[:MAX_LOG_LINE].rstrip("\r")}) + "\n"
                for line in lines
            ).encode("utf-8")
        )

    def end(self, fields):
        """Send the ``end`` message; the runner closing the socket afterwards is expected."""
        self._ending = True
        self.send({"type": "end", **fields})
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    # ----- requests ------------------------------------------------------------------------

    def call(self, method, params):
        """Send a request and block until its reply; FlowApiError for an error reply."""
        call_id = next(self._ids)
        try:
            message = {"type": "call", "id": call_id, "method": method, "params": params}
            check_depth(message, MAX_WIRE_DEPTH)  # the runner refuses deeper lines
            data = (dumps(message) + "\n").encode("utf-8")
        except TooDeep as exc:
            raise FlowApiError(f"{method}: {exc}") from None
        except (TypeError, ValueError, RecursionError) as exc:
            raise FlowApiError(f"{method}: the parameters must be JSON serialisable ({exc})") from None
        self.ensure_io()
        slot = [_signal(), None]
        self._pending[call_id] = slot
        try:
            if self._lost:
                raise FlowApiError("the connection to the runner is lost")
            self._write(data)
            slot[0].acquire()
        finally:
            self._pending.pop(call_id, None)
        reply = slot[1]
        if reply is None:
            raise FlowApiError("the connection to the runner is lost")
        error = reply.get("error")
        if error is not None:
            raise error_from_reply(method, error)
        return reply.get("result")

    def wait_resume(self):
        """Report PAUSED, block until the runner sends ``resume``, then report RUNNING."""
        self.ensure_io()
        self._resume = _signal()  # before PAUSED goes out, so an immediate resume is not lost
        self.send({"type": "status", "status": "PAUSED", "message": "paused by the flow"})
        self._resume.acquire()
        self._resume = None
        self.send({"type": "status", "status": "RUNNING", "message": None})

    def _dispatch(self, message):
        kind = message.get("type")
        if kind == "reply":
            slot = self._pending.get(message.get("id"))
            if slot is not None:
                slot[1] = message
                _fire(slot[0])
        elif kind == "resume":
            paused = self._resume
            if paused is not None:
                _fire(paused)
        elif kind in self.handlers:
            self.handlers[kind](message)

    def _connection_lost(self):
        self._lost = True
        for slot in list(self._pending.values()):
            _fire(slot[0])  # callers see a None reply: "connection lost"
        if self._ending:
            return
        # The runner is gone: nobody will ever see this execution's result, and flows must not
        # run on unsupervised. Exit without running Python cleanup (other threads may hold locks).
        os._exit(3)

    # ----- the I/O thread ------------------------------------------------------------------

    def attach_pipes(self, pipes):
        """``pipes`` maps read fds (non-blocking where PIPES_SELECTABLE) to stream names."""
        self._pipes = {fd: [stream, b""] for fd, stream in pipes.items()}
        self._drained = _signal()
        if not pipes:
            _fire(self._drained)
        if not PIPES_SELECTABLE:
            for fd in pipes:
                _thread.start_new_thread(self._read_pipe_to_eof, (fd,))

    def watch_socket(self):
        """Until the I/O thread runs, let the kernel signal (SIGIO) when the runner writes or
        goes away, so that a resume arrives and a worker whose runner died exits (the thread
        then reads EOF) without a thread reading all along. Where SIGIO is missing the thread
        starts at once."""
        if fcntl is None or not hasattr(signal, "SIGIO") or not hasattr(os, "O_ASYNC"):
            self.ensure_io()
            return
        signal.signal(signal.SIGIO, self._on_sigio)  # before O_ASYNC: SIGIO's default kills
        fd = self._sock.fileno()
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)

    def _on_sigio(self, signum, frame):
        # Runs in the main thread between bytecodes. If this thread is inside ensure_io()
        # already (the lock is held), that call starts the I/O thread; calling it again here
        # would deadlock on the lock.
        if not self._io_started and not self._io_lock.locked():
            self.ensure_io()

    def ensure_io(self):
        """Start the I/O thread unless it runs already (or the execution is ending)."""
        if self._io_started:
            return
        with self._io_lock:
            if self._io_started or not self._io_allowed:
                return
            self._io_started = True
            if self.before_io_start is not None:
                self.before_io_start()
            # _thread rather than threading.Thread, whose start() waits for the new thread to
            # run: a context switch on the caller's path.
            _thread.start_new_thread(self._io_loop, ())

    def stop_io_starts(self):
        """No I/O thread may start from now on; returns whether threads read the pipes."""
        with self._io_lock:
            self._io_allowed = False
            return self._io_started or not PIPES_SELECTABLE

    def close(self, timeout):
        """After ``end``: wait for the I/O thread (if one started) to see the runner close the
        socket, then close it. False when the thread is still busy after ``timeout`` seconds (a
        subprocess holds a pipe open, say): the process must then not run another execution."""
        if self._io_started and not self._io_done.acquire(timeout=timeout):
            return False
        try:
            self._sock.close()
        except OSError:
            pass
        return True

    def wait_pipes_drained(self, timeout):
        """Wait until the reading threads saw EOF on the pipes (fd 1/2 closed beforehand)."""
        if self._drained is not None:
            self._drained.acquire(timeout=timeout)

    def _read_pipe_to_eof(self, fd):
        try:
            while self._read_pipe(fd):
                pass
        except OSError:
            pass

    def _io_loop(self):
        selector = None
        try:
            if fcntl is not None and hasattr(os, "O_ASYNC"):  # this thread reads now: no SIGIO
                fd = self._sock.fileno()
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_ASYNC)
            selector = selectors.DefaultSelector()
            selector.register(self._sock, selectors.EVENT_READ, None)
            for fd in self._pipes if PIPES_SELECTABLE else ():
                selector.register(fd, selectors.EVENT_READ, fd)
            buffer = b""
            while True:
                for key, _ in selector.select():
                    if key.data is not None:
                        try:
                            if not self._read_pipe(key.data):
                                selector.unregister(key.data)
                        except BlockingIOError:
                            pass
                        continue
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        selector.unregister(self._sock)
                        self._connection_lost()
                        continue
                    buffer += chunk
                    if b"\n" in buffer:
                        *lines, buffer = buffer.split(b"\n")
                        for line in lines:
                            if line.strip():
                                self._dispatch(_loads(line))
                if not selector.get_map():
                    return
        except BaseException:  # noqa: BLE001 - a dead I/O thread would hang every call
            self._connection_lost()
        finally:
            if selector is not None:
                selector.close()  # a pooled worker runs many executions: no fd may leak
            _fire(self._io_done)

    def _read_pipe(self, fd):
        stream, partial = self._pipes[fd]
        data = os.read(fd, 65536)
        if not data:
            os.close(fd)
            if partial:
                self.log(stream, partial.decode("utf-8", "replace"))
            del self._pipes[fd]
            if not self._pipes:
                _fire(self._drained)
            return False
        data = partial + data
        head, sep, rest = data.rpartition(b"\n")
        if len(rest) > MAX_LOG_LINE:  # no newline in sight: send what we have
            head, rest = data, b""
        self._pipes[fd][1] = rest
        if sep or head:
            self.log(stream, head.decode("utf-8", "replace"))
        return True


def _signal():
    lock = _thread.allocate_lock()
    lock.acquire()
    return lock


def _fire(signal):
    try:
        signal.release()
    except RuntimeError:  # fired twice (a duplicate reply or resume)
        pass


# The runner writes replies as {"type":"reply","id":N,…}: one it cannot read still names its call.
_REPLY_ID = re.compile(rb'\s*\{\s*"type"\s*:\s*"reply"\s*,\s*"id"\s*:\s*(\d{1,18})\b')


def _loads(line):
    """A runner message as a dict; a line that cannot be read (not JSON, nested too deep, ...)
    is ignored, except a reply, which becomes an error reply so that its caller is not left
    waiting."""
    try:
        message = loads(line)
    except Exception as exc:  # noqa: BLE001 - ValueError, TooDeep, anything: never the I/O thread's end
        match = _REPLY_ID.match(line)
        if not match:
            return {}
        text = str(exc) if isinstance(exc, TooDeep) else f"{type(exc).__name__}: {exc}"
        error = {"code": "invalid", "message": f"the runner's reply cannot be read: {text}"}
        return {"type": "reply", "id": int(match.group(1)), "error": error}
    return message if isinstance(message, dict) else {}
