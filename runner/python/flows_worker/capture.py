"""Capture of everything a flow prints, as ``log`` messages of streams stdout and stderr.

Two levels:

- ``sys.stdout``/``sys.stderr`` become LogStreams that send whole lines straight from the
  writing thread: ``print`` needs no other thread.
- fd 1/2 (subprocesses, C code, ``os.write``) need a thread to drain a pipe, and starting a
  thread is the largest single cost of a trivial execution. So on Linux fd 1/2 first point at
  in-memory files (memfd: writes never block, nothing to drain) whose content is logged at the
  end; they are switched to pipes read by the channel's I/O thread as soon as the flow starts
  a process (the spawn hooks below) or makes its first runner call, so subprocess output
  streams live. Elsewhere the pipes and the thread are set up at once.
"""

import functools
import io
import os
import subprocess
import sys
import threading

from flows_worker.channel import PIPES_SELECTABLE

#: Set while a worker runs: called before the flow starts any process.
_before_spawn = None
_hooks_installed = False
#: Whether the flow of the current execution started a process (a pooled worker whose flow did
#: is retired: what it started may still run, in its process group).
processes_started = False


class LogStream(io.TextIOBase):
    """A text stream that sends each complete line to the runner as one log message."""

    def __init__(self, channel, stream, fd):
        super().__init__()
        self._channel = channel
        self._stream = stream
        self._fd = fd
        self._partial = ""
        self._lock = threading.Lock()

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    @property
    def buffer(self):
        """Bytes written here are decoded and logged like text (``sys.stdout.buffer.write``)."""
        return _BytesSink(self)

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        # subprocess.run(stdout=sys.stdout) and faulthandler need a real fd: fd 1/2 are the
        # captured pipes.
        return self._fd

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            head, newline, self._partial = (self._partial + text).rpartition("\n")
            if newline:
                self._channel.log(self._stream, head)
        return len(text)

    def flush(self):
        # Lines are the unit of the log: a partial line waits for its newline (or the end).
        pass

    def finish(self):
        """Send a last line that has no newline."""
        with self._lock:
            if self._partial:
                self._channel.log(self._stream, self._partial)
                self._partial = ""


class _BytesSink(io.RawIOBase):
    def __init__(self, text_stream):
        super().__init__()
        self._text = text_stream

    def writable(self):
        return True

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)


class Capture:
    """Installs both levels of capture and, at the end, drains them so no line is lost."""

    # A subprocess left running in the background keeps the pipe open; the end message must
    # not wait for it longer than this.
    DRAIN_TIMEOUT = 0.5

    def __init__(self, channel):
        self._channel = channel
        self._streams = []
        self._memfds = {}  # stream -> [memfd, bytes of it already logged]

    def install(self):
        global _before_spawn, processes_started
        processes_started = False
        if hasattr(os, "memfd_create"):
            for fd, stream in _FDS:
                memfd = os.memfd_create(f"flows-{stream}", os.MFD_CLOEXEC)
                os.dup2(memfd, fd)
                self._memfds[stream] = [memfd, 0]
            self._channel.before_io_start = self._switch_to_pipes
        else:
            self._switch_to_pipes()
            self._channel.ensure_io()
        _before_spawn = self._channel.ensure_io
        install_spawn_hooks()
        sys.stdout = LogStream(self._channel, "stdout", 1)
        sys.stderr = LogStream(self._channel, "stderr", 2)
        self._streams = [sys.stdout, sys.stderr]

    def _switch_to_pipes(self):
        pipes = {}
        for fd, stream in _FDS:
            read_end, write_end = (_above_stdio(end) for end in os.pipe())
            if PIPES_SELECTABLE:
                os.set_blocking(read_end, False)
            os.dup2(write_end, fd)
            os.close(write_end)
            pipes[read_end] = stream
        self._channel.attach_pipes(pipes)
        self._log_memfds()  # what was written before the switch comes first

    def finish(self):
        global _before_spawn
        _before_spawn = None
        for stream in self._streams:
            stream.finish()
        threads_read_pipes = self._channel.stop_io_starts()
        # Closing our copies of the pipes' write ends lets readers see EOF once drained.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
        self._log_memfds()
        for memfd, _ in self._memfds.values():
            os.close(memfd)
        if threads_read_pipes:
            self._channel.wait_pipes_drained(self.DRAIN_TIMEOUT)

    def _log_memfds(self):
        for stream, entry in self._memfds.items():
            memfd, offset = entry
            carry = b""
            while True:
                chunk = os.pread(memfd, 1 << 20, offset)
                if not chunk:
                    break
                offset += len(chunk)
                head, newline, carry = (carry + chunk).rpartition(b"\n")
                if newline:
                    self._channel.log(stream, head.decode("utf-8", "replace"))
            if carry:
                self._channel.log(stream, carry.decode("utf-8", "replace"))
            entry[1] = offset


_FDS = ((1, "stdout"), (2, "stderr"))


def _above_stdio(fd):
    """``fd`` moved to 3 or above. A flow that closed fd 1 or 2 frees them, and a new pipe end
    placed there would be overwritten by the very dup2 that makes it fd 1/2."""
    low = []
    while fd <= 2:  # os.dup takes the lowest free fd: at most three rounds
        low.append(fd)
        fd = os.dup(fd)
    for f in low:
        os.close(f)
    return fd


def _hooked(original):
    @functools.wraps(original)
    def start_drain_first(*args, **kwargs):
        global processes_started
        if _before_spawn is not None:
            processes_started = True
            _before_spawn()
        return original(*args, **kwargs)

    return start_drain_first


def install_spawn_hooks():
    """Make every way of starting a process start the pipe-draining thread first.

    Done once in the fork server, so children inherit the wrappers for free. Outside a worker
    (``_before_spawn`` unset) the wrappers only call through.
    """
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    if hasattr(subprocess.Popen, "_execute_child"):
        subprocess.Popen._execute_child = _hooked(subprocess.Popen._execute_child)
    for name in ("system", "fork", "posix_spawn", "posix_spawnp", "forkpty"):
        if hasattr(os, name):
            setattr(os, name, _hooked(getattr(os, name)))
