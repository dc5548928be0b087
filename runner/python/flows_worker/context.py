"""The execution context a worker gives flow_api: the running execution and its channel.

flow_api reaches everything through this one object (``flow_api._context``), so nothing of an
execution lives in module globals and a process could run one execution after another.
"""

import time

from flow_api import _context


class WorkerContext:
    """Implements ``flow_api._context.ExecutionContext`` over the worker's Channel."""

    __slots__ = ("execution_id", "record", "flows_dir", "files_dir", "job", "_channel", "virtual_clock", "_offset")

    def __init__(self, job, channel):
        self.job = job
        self.execution_id = str(job.get("execution_id"))
        self.record = job.get("record") or {}
        self.flows_dir = job.get("flows_dir") or "."
        self.files_dir = job.get("files_dir") or "files"
        self._channel = channel
        #: Sleeps take no time, they move this execution's clock on (a test replaying a run).
        self.virtual_clock = bool(job.get("virtual_clock"))
        self._offset = 0.0

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
        if self.virtual_clock:
            self._offset += seconds
        else:
            time.sleep(seconds)

    def time(self):
        """Now, as a Unix timestamp, on this execution's clock (ahead by its virtual sleeps)."""
        return time.time() + self._offset


def install(job, channel):
    """Make the execution of ``job`` the one flow_api acts for in this process."""
    context = WorkerContext(job, channel)
    _context.install(context)
    return context
