"""A small stand-in for the Node runner: it starts forkserver.py, listens on the workers' Unix
socket and speaks docs/worker-protocol.md, so tests run real forked workers end to end."""

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest
import time

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORKSERVER = os.path.join(PYTHON_DIR, "flows_worker", "forkserver.py")
WORKER = os.path.join(PYTHON_DIR, "flows_worker", "worker.py")
SECRET = "test-secret"


class Run:
    """What the fake runner saw of one execution."""

    def __init__(self, execution_id):
        self.execution_id = execution_id
        self.messages = []
        self.pid = None
        self.exited = None
        self.sock = None
        self.spawned_at = None
        self.started_at = None

    def of_type(self, kind):
        return [m for m in self.messages if m.get("type") == kind]

    @property
    def end(self):
        ends = self.of_type("end")
        return ends[-1] if ends else None

    def logs(self, stream=None):
        return [m["text"] for m in self.of_type("log") if stream is None or m["stream"] == stream]

    def calls(self):
        return [m for m in self.of_type("call")]


class FakeRunner:
    """One fork server plus the socket its workers connect to.

    ``on_call(run, method, params)`` answers calls: return a result, or raise to send an error.
    """

    def __init__(self, tcp=False):
        self.tmp = tempfile.mkdtemp(prefix="flows-test-")
        self.flows_dir = os.path.join(self.tmp, "flows")
        self.files_dir = os.path.join(self.tmp, "files")
        os.makedirs(self.flows_dir)
        self.on_call = self._no_calls
        self.runs = {}
        self.events = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        if tcp:  # what the runner uses where Unix sockets are missing
            self._server = socket.create_server(("127.0.0.1", 0), backlog=512)
            self.address = f"tcp:127.0.0.1:{self._server.getsockname()[1]}"
        else:
            self.address = os.path.join(self.tmp, "w.sock")
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(self.address)
            self._server.listen(512)
        threading.Thread(target=self._accept, daemon=True).start()
        self.env = {
            **os.environ,
            "PYTHONPATH": PYTHON_DIR,
            "FLOWS_WORKER_ADDRESS": self.address,
            "FLOWS_WORKER_SECRET": SECRET,
        }
        self.forkserver = subprocess.Popen(
            [sys.executable, "-u", FORKSERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
        )
        threading.Thread(target=self._read_events, daemon=True).start()
        self.ready = self.wait_for(lambda: next((e for e in self.events if e["event"] == "ready"), None))

    # ----- the fork server ----------------------------------------------------------------

    def _read_events(self):
        for line in self.forkserver.stdout:
            event = json.loads(line)
            with self._cond:
                self.events.append(event)
                run = self.runs.get(event.get("execution_id"))
                if run is not None and event["event"] == "spawned":
                    run.pid = event["pid"]
                if run is not None and event["event"] == "exited":
                    run.exited = event
                self._cond.notify_all()

    def write_flow(self, name, source):
        path = os.path.join(self.flows_dir, name + ".py")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(source))
        return path

    def job(self, kind="flow", flow_name="test", inputs=None, **extra):
        execution_id = f"e{next(self._ids)}"
        job = {
            "execution_id": execution_id,
            "record": {
                "id": execution_id,
                "name": flow_name,
                "type": "CONNECTION" if kind == "connection" else "FLOW",
                "status": "RUNNING",
                "flow_name": flow_name,
                "input_value": inputs,
                "output_value": None,
                "message": None,
                "is_productive": False,
                "parent_execution_id": None,
                "top_execution_id": execution_id,
            },
            "kind": kind,
            "flow_path": os.path.join(self.flows_dir, flow_name + ".py"),
            "flows_dir": self.flows_dir,
            "files_dir": self.files_dir,
            "debug": None,
        }
        job.update(extra)
        return job

    def expect(self, job):
        """Register the execution of ``job`` so its worker's socket is accepted."""
        run = Run(job["execution_id"])
        with self._cond:
            self.runs[run.execution_id] = run
        return run

    def spawn(self, job):
        run = self.expect(job)
        line = json.dumps({"cmd": "spawn", "execution_id": run.execution_id, "job": job}) + "\n"
        run.spawned_at = time.perf_counter()
        self.forkserver.stdin.write(line.encode())
        self.forkserver.stdin.flush()
        return run

    def run_flow(self, source, inputs=None, timeout=10, **job):
        """Write ``source`` as a flow, run it and wait until its process has exited."""
        self.write_flow(job.get("flow_name", "test"), source)
        return self.finish(self.spawn(self.job(inputs=inputs, **job)), timeout)

    def finish(self, run, timeout=10):
        self.wait_for(lambda: run.end is not None and run.exited is not None, timeout)
        return run

    # ----- the workers' socket ------------------------------------------------------------

    def _accept(self):
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        run = None
        for line in sock.makefile("rb"):
            message = json.loads(line)
            if run is None:
                assert message["type"] == "hello" and message["secret"] == SECRET, message
                with self._cond:
                    run = self.runs[message["execution_id"]]
                    run.sock = sock
                continue
            if message["type"] == "started":
                run.started_at = time.perf_counter()
            with self._cond:
                run.messages.append(message)
                self._cond.notify_all()
            if message["type"] == "call":
                self._answer(run, message)

    def _answer(self, run, message):
        try:
            result = self.on_call(run, message["method"], message["params"])
            reply = {"type": "reply", "id": message["id"], "result": result}
        except Exception as exc:  # noqa: BLE001 - becomes an error reply
            reply = {"type": "reply", "id": message["id"], "error": {"message": str(exc)}}
        self.send(run, reply)

    def send(self, run, message):
        run.sock.sendall((json.dumps(message) + "\n").encode())

    @staticmethod
    def _no_calls(run, method, params):
        raise RuntimeError(f"unexpected call {method}")

    # ----- helpers --------------------------------------------------------------------------

    def wait_for(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for the fork server or a worker")
                self._cond.wait(left)

    def close(self):
        self.forkserver.stdin.close()
        self.forkserver.wait(5)
        self.forkserver.stdout.close()
        self._server.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class RunnerTestCase(unittest.TestCase):
    """A test case with one FakeRunner (and its fork server) shared by all its tests."""

    @classmethod
    def setUpClass(cls):
        cls.runner = FakeRunner()

    @classmethod
    def tearDownClass(cls):
        cls.runner.close()
