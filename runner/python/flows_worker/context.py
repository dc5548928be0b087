"""The execution context a worker gives flow_api: the running execution and its channel.

flow_api reaches everything through this one object (``flow_api._context``), so nothing of an
execution lives in module globals and a process could run one execution after another.
"""

import time

from flow_api import _context
from flows_worker import replay_clock


class WorkerContext:
    """Implements ``flow_api._context.ExecutionContext`` over the worker's Channel."""

    __slots__ = ("execution_id", "record", "flows_dir", "files_dir", "job", "_channel", "clock")

    def __init__(self, job, channel):
        self.job = job
        self.execution_id = str(job.get("execution_id"))
        self.record = job.get("record") or {}
        self.flows_dir = job.get("flows_dir") or "."
        self.files_dir = job.get("files_dir") or "files"
        self._channel = channel
        #: A replayed run's clock (replay_clock.py): sleeps take no time, they move it on.
        self.clock = replay_clock.for_job(job)

    def call(self, method, params):
        return self._channel.call(method, params)

    def send(self, message):
        self._channel.send(message)

    def log(self, stream, text):
        self._channel.log(stream, text)

    def wait_resume(self):
        self._channel.wait_resume()

    def sleep(self, seconds):
        """Wait ``seconds``; on a virtual clock, move the clock on instead."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def time(self):
        """Now, as a Unix timestamp, on this execution's clock."""
        return self.clock.now() if self.clock is not None else time.time()


def install(job, channel):
    """Make the execution of ``job`` the one flow_api acts for in this process."""
    context = WorkerContext(job, channel)
    _context.install(context)
    return context
