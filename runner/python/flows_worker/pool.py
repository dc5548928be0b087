"""A pooled worker: a process the fork server forked once, which runs one execution after another.

The protocol: the runner writes ``{"cmd":"pool","execution_id":"pool-N","options":{...}}`` to
the fork server, which forks the worker and reports it like any child (``spawned``/``exited``
with ``pool-N`` for the execution id). The worker connects a control socket to
FLOWS_WORKER_ADDRESS and says ``{"type":"ready","worker_id":"pool-N","secret":…,"pid":N}``; the
runner sends ``{"type":"job","job":{...}}`` on it; the worker runs the job exactly as a forked
worker would (a connection of its own with hello, messages and end), closes that connection,
restores what a flow can see and says ``{"type":"ready"}`` again. A worker that cannot restore
says ``{"type":"retire","reason":…}`` and exits; the runner starts another.

What is restored between two executions: the flow's module (a fresh namespace each time, and
``__flow__`` and every module loaded from the flows folder leave ``sys.modules``), the
working directory, ``os.environ``, ``sys.path`` and the path importer cache, signal handlers,
the signal mask and the interval timer, the umask, the recursion limit and switch interval,
the garbage collector's settings, the default socket timeout, context variables (each execution
runs in a copy of the worker's first context), trace and profile functions, the standard
streams, warning filters, the root logger's handlers, and the resource limits. A flow that
monkeypatches a module it shares with the next execution (``json.dumps = …``) is not undone:
such a flow wants ``# flows: isolated``. What it cannot undo retires the worker: a thread still alive, a process the flow
started, a debugger attached during the run, a limit it cannot raise back, leaked file
descriptors, memory above the ceiling, and ``max_executions`` reached.
"""

import _signal
import _thread
import atexit
import contextvars
import gc
import os
import signal
import sys
import time

from flow_api import _context
from flows_worker import capture, debugger, loader, wire, worker
from flows_worker.channel import connect

# A worker may leak a few descriptors in caches of the standard library; more than this is a
# flow that opens and never closes.
_MAX_FD_GROWTH = 32
_THREAD_GRACE = 0.05  # seconds for the I/O thread to be gone from the thread count
_CLOSE_TIMEOUT = 1.0  # seconds for the I/O thread to see its connection closed

try:
    import resource
except ImportError:  # not POSIX
    resource = None

_RLIMITS = tuple(
    getattr(resource, name)
    for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_NPROC")
    if resource is not None and hasattr(resource, name)
)


def _highest_fd():
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        return None


def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _rss_mb():
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1048576
    except (OSError, ValueError, IndexError):
        if resource is None:
            return 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1048576 if sys.platform == "darwin" else peak / 1024


class Baseline:
    """What the process looked like before its first execution, and putting it back."""

    def __init__(self):
        self.cwd = os.getcwd()
        self.environ = dict(os.environ)
        # Compared as the bytes os.environ keeps (no decoding: ~50 times faster).
        self.environ_data = dict(getattr(os.environ, "_data", None) or {})
        self.path = list(sys.path)
        self.modules = set(sys.modules)
        self.importers = set(sys.path_importer_cache)
        self.signals = {}
        for sig in signal.valid_signals() if hasattr(signal, "valid_signals") else ():
            if sig in (getattr(signal, "SIGKILL", None), getattr(signal, "SIGSTOP", None)):
                continue
            try:
                handler = _signal.getsignal(sig)  # SIG_DFL and SIG_IGN as plain ints
            except (ValueError, OSError):
                continue
            if handler is not None:
                self.signals[sig] = handler
        _track_signal_changes()
        # _signal: ints in and out, where signal's wrappers convert every number to an enum.
        self.sigmask = _signal.pthread_sigmask(signal.SIG_BLOCK, []) if hasattr(_signal, "pthread_sigmask") else None
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.recursion = sys.getrecursionlimit()
        self.switch_interval = sys.getswitchinterval()
        self.gc = (gc.isenabled(), gc.get_threshold())
        self.atexit = atexit._ncallbacks()
        socket = sys.modules.get("socket")
        self.socket_timeout = socket.getdefaulttimeout() if socket is not None else None
        #: Each execution runs in a copy of this: context variables (decimal's context, say)
        #: that a flow sets do not reach the next one.
        self.context = contextvars.copy_context()
        self.hooks = (sys.excepthook, sys.displayhook, sys.breakpointhook)
        self.rlimits = {which: resource.getrlimit(which) for which in _RLIMITS}
        # Descriptors are handed out lowest first: a flow that leaked more than _MAX_FD_GROWTH
        # has one open at this number (one fstat, where listing /proc/self/fd costs 20 times more).
        highest = _highest_fd()
        self.fd_probe = None if highest is None else highest + _MAX_FD_GROWTH
        self.warnings = None
        self.root_handlers = None

    def before(self, job):
        """Just before an execution: what is cheap to take only when a flow may change it."""
        warnings = sys.modules.get("warnings")
        self.warnings = list(warnings.filters) if warnings is not None else None
        logging = sys.modules.get("logging")
        if logging is not None:
            root = logging.getLogger()
            self.root_handlers = (list(root.handlers), root.level)
        else:
            self.root_handlers = None
        worker.apply_limits(job.get("limits"), pooled=True)

    def restore(self, job):
        """Put everything back after an execution; returns why it cannot be reused, or None."""
        _context.install(None)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        sys.settrace(None)
        sys.setprofile(None)
        why = None
        if debugger.current is not None:
            why = "a debugger was attached to its execution"
        elif capture.processes_started:
            why = "its flow started processes"
        self._restore_modules(job)
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        data = getattr(os.environ, "_data", None)
        if data is None or data != self.environ_data:
            os.environ.clear()
            os.environ.update(self.environ)
        sys.path[:] = self.path
        for sig in _changed_signals.copy():
            handler = self.signals.get(sig)
            try:
                current = _signal.getsignal(sig)
                if handler is not None and current is not handler and current != handler:
                    _set_handler(sig, handler)
            except (ValueError, OSError, TypeError):
                why = why or f"cannot restore the handler of signal {sig}"
        _changed_signals.clear()
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        if self.sigmask is not None:
            _signal.pthread_sigmask(signal.SIG_SETMASK, self.sigmask)
        os.umask(self.umask)
        if sys.getrecursionlimit() != self.recursion:
            sys.setrecursionlimit(self.recursion)
        if sys.getswitchinterval() != self.switch_interval:
            sys.setswitchinterval(self.switch_interval)
        if (gc.isenabled(), gc.get_threshold()) != self.gc:
            (gc.enable if self.gc[0] else gc.disable)()
            gc.set_threshold(*self.gc[1])
        if atexit._ncallbacks() != self.atexit:
            # Never run in a worker (it ends with os._exit): they would only keep the flow alive.
            atexit._clear()
            self.atexit = 0
        socket = sys.modules.get("socket")
        if socket is not None and socket.getdefaulttimeout() != self.socket_timeout:
            socket.setdefaulttimeout(self.socket_timeout)
        sys.excepthook, sys.displayhook, sys.breakpointhook = self.hooks
        warnings = sys.modules.get("warnings")
        if warnings is not None and self.warnings is not None:
            warnings.filters[:] = self.warnings
            getattr(warnings, "_filters_mutated", lambda: None)()
        logging = sys.modules.get("logging")
        if logging is not None:
            root = logging.getLogger()
            handlers, level = self.root_handlers or ([], logging.WARNING)
            root.handlers[:] = handlers
            root.setLevel(level)
        for which, limits in self.rlimits.items():
            try:
                if resource.getrlimit(which) != limits:
                    resource.setrlimit(which, limits)
            except (ValueError, OSError):
                why = why or "its flow lowered a resource limit"
        why = why or _threads_left()
        if why is None and self.fd_probe is not None and _is_open(self.fd_probe):
            why = "its flow left file descriptors open"
        sys.exc_info()  # noqa: B018 - nothing of the flow's last exception stays referenced
        return why

    def _restore_modules(self, job):
        sys.modules.pop(loader.FLOW_MODULE, None)
        prefixes = _prefixes(job.get("flows_dir"))
        if len(sys.modules) != len(self.modules) or sys.modules.keys() != self.modules:
            for name in sys.modules.keys() - self.modules:
                module = sys.modules.get(name)
                file = getattr(module, "__file__", None)
                paths = [file] if file else list(getattr(module, "__path__", None) or ())
                if any(isinstance(p, str) and p.startswith(prefixes) for p in paths):
                    del sys.modules[name]
            self.modules = set(sys.modules)
        cache = sys.path_importer_cache
        if len(cache) != len(self.importers) or cache.keys() != self.importers:
            for entry in cache.keys() - self.importers:
                if isinstance(entry, str) and os.path.join(entry, "").startswith(prefixes):
                    del cache[entry]
            self.importers = set(cache)
        if job.get("kind") == "script":
            import linecache

            linecache.cache.pop(loader.filename_of(job), None)


_prefix_cache = {}


def _prefixes(flows_dir):
    """The flows folder as given and as resolved, each ending in a separator."""
    if not flows_dir:
        return ("\0",)
    found = _prefix_cache.get(flows_dir)
    if found is None:
        found = tuple({os.path.join(flows_dir, ""), os.path.join(os.path.realpath(flows_dir), "")})
        if len(_prefix_cache) > 64:
            _prefix_cache.clear()
        _prefix_cache[flows_dir] = found
    return found


_original_signal = signal.signal
_set_handler = _signal.signal  # the same, without enum conversions
_changed_signals = set()


def _track_signal_changes():
    """Have ``signal.signal`` note which handlers change, so that only those are put back (reading
    every handler after each execution costs more than the rest of the restoring)."""
    if signal.signal is not _original_signal:
        return

    def tracked(signalnum, handler):
        _changed_signals.add(signalnum)
        return _original_signal(signalnum, handler)

    tracked.__doc__ = _original_signal.__doc__
    tracked.__wrapped__ = _original_signal
    signal.signal = tracked


def _threads_left():
    count = getattr(_thread, "_count", None)
    if count is None:
        return None
    deadline = time.monotonic() + _THREAD_GRACE
    while count() > 0:
        if time.monotonic() > deadline:
            return f"its flow left {count()} thread(s) running"
        time.sleep(0.0005)
    return None


class _Control:
    """The pooled worker's own connection: ``ready``/``retire`` out, ``job`` in."""

    def __init__(self, sock):
        self._sock = sock
        self._buffer = b""

    def send(self, message):
        self._sock.sendall((wire.dumps(message) + "\n").encode("utf-8"))

    def next_job(self):
        """The next job, or None when the runner closed the connection."""
        while True:
            while b"\n" not in self._buffer:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    return None
                self._buffer += chunk
            line, _, self._buffer = self._buffer.partition(b"\n")
            if not line.strip():
                continue
            try:
                message = wire.loads(line)
            except Exception:  # noqa: BLE001 - the runner never sends such a line; skip it
                continue
            if isinstance(message, dict) and message.get("type") == "job" and isinstance(message.get("job"), dict):
                return message["job"]


def serve(worker_id, options):
    """Run jobs until retired or the runner goes away; returns the exit code."""
    max_executions = int(options.get("max_executions") or 1000)
    max_rss_mb = float(options.get("max_rss_mb") or 0)
    control = _Control(connect(os.environ["FLOWS_WORKER_ADDRESS"]))
    baseline = Baseline()
    control.send(
        {
            "type": "ready",
            "worker_id": worker_id,
            "secret": os.environ.get("FLOWS_WORKER_SECRET", ""),
            "pid": os.getpid(),
        }
    )
    done = 0
    while True:
        job = control.next_job()
        if job is None:
            return 0
        baseline.before(job)
        loader.precompile(job)  # once per version of the flow's file, in this process
        channel = baseline.context.copy().run(worker.run_one, job)
        done += 1
        why = None if channel.close(_CLOSE_TIMEOUT) else "its connection did not close"
        why = baseline.restore(job) or why
        if why is None and done >= max_executions:
            why = f"it ran {done} executions (the limit)"
        if why is None and max_rss_mb:
            rss = _rss_mb()
            if rss > max_rss_mb:
                why = f"it uses {rss:.0f} MB (more than {max_rss_mb:.0f} MB)"
        if why is not None:
            control.send({"type": "retire", "reason": why})
            return 0
        control.send({"type": "ready"})
