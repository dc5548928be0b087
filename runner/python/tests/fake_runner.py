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
            error = {"message": str(exc)}
            if getattr(exc, "code", None):
                error["code"] = exc.code
            reply = {"type": "reply", "id": message["id"], "error": error}
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


# ----- a fake of the platform's calls ---------------------------------------------------------


class CallError(Exception):
    """Raised by a FakePlatform handler: becomes an error reply with ``code``."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


#: Statuses after which a fake child never changes (the runner's names).
ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "INVALID", "PARTIAL_SUCCEEDED"})

#: An outcome whose child never ends (waits on it time out).
NEVER = ("RUNNING", None, None)


def condition_met(return_when, records):
    """runner/src/engine/waits.ts conditionMet, over runner status names."""
    ended = [r for r in records if r["status"] in ENDED]
    all_ended = len(ended) == len(records)
    if return_when == "ALL_ENDED":
        return all_ended
    if return_when == "ALL_SUCCEEDED":
        return all_ended or any(r["status"] != "SUCCEEDED" for r in ended)
    if return_when == "FIRST_ENDED":
        return bool(ended)
    if return_when == "FIRST_SUCCEEDED":
        return all_ended or any(r["status"] == "SUCCEEDED" for r in ended)
    raise CallError("invalid", f"return_when '{return_when}' is unknown")


class FakePlatform:
    """Answers worker calls (docs/worker-protocol.md) from memory, as ``FakeRunner.on_call``.

    Records (settings, connections, ...) live in ``records`` keyed by (type, name); locks in
    ``locks`` (name -> holding execution id). Children start when created but "run" only when
    a flow waits for them: ``execution.wait`` ends them one after the other, in the order of
    ``ids``, until ``return_when`` holds, each as ``outcomes[flow_name or connector]`` says:
    ``(status, message, output_value)``, a list of those used one per child, or NEVER. The
    default outcome is SUCCEEDED with ``{'echo': input_value}``.
    """

    def __init__(self):
        self.executions = {}
        self.records = {}
        self.locks = {}
        self.messages = {}
        self.calls = []
        self.outcomes = {}
        self.responses = {}  # message id -> response (default {'approved': True}; None: no answer)
        self._ids = itertools.count(1)
        self._cond = threading.Condition(threading.RLock())

    def __call__(self, run, method, params):
        with self._cond:
            self.calls.append((method, params))
        handler = getattr(self, method.replace(".", "_"), None)
        if handler is None:
            raise CallError("invalid", f"unknown method {method}")
        return handler(run, params)

    def called(self, method):
        """The params of every call of ``method``, in order."""
        return [p for m, p in self.calls if m == method]

    # ----- records ----------------------------------------------------------------------

    def _find(self, params):
        kind, key, by = params["type"], str(params["key"]), params.get("by", "name")
        for (t, _), record in self.records.items():
            if t == kind and str(record[by]) == key:
                return record
        return None

    def _found(self, params):
        record = self._find(params)
        if record is None:
            raise CallError("not_found", f"{params['type']} '{params['key']}' does not exist")
        return record

    def add_record(self, kind, name, **fields):
        """Put a record in place (as if another flow had saved it); returns it."""
        with self._cond:
            record = {"id": f"{kind}-{next(self._ids)}", "name": name, "archived": False, **fields}
            self.records[(kind, name)] = record
            return record

    def record_get(self, run, params):
        with self._cond:
            return dict(self._found(params))

    def record_exists(self, run, params):
        with self._cond:
            return self._find(params) is not None

    def record_save(self, run, params):
        with self._cond:
            fields = dict(params.get("fields") or {})
            record = self._find(params)
            if record is None:
                if params.get("by") == "id":
                    raise CallError("not_found", f"{params['type']} '{params['key']}' does not exist")
                record = self.add_record(params["type"], str(params["key"]))
            old_name = record["name"]
            record.update(fields)
            if record["name"] != old_name:
                self.records[(params["type"], record["name"])] = self.records.pop((params["type"], old_name))
            return dict(record)

    def record_delete(self, run, params):
        with self._cond:
            record = self._find(params)
            if record is not None:
                del self.records[(params["type"], record["name"])]
            return None

    def record_archive(self, run, params):
        with self._cond:
            record = self._found(params)
            record["archived"] = True
            return dict(record)

    def record_list(self, run, params):
        with self._cond:
            records = [
                dict(r)
                for (t, _), r in sorted(self.records.items())
                if t == params["type"] and (params.get("include_archived") or not r.get("archived"))
            ]
            return {"records": records}

    # ----- locks ------------------------------------------------------------------------

    def lock_acquire(self, run, params):
        name, timeout = params["name"], params.get("timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self.locks.get(name) not in (None, run.execution_id):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise CallError("lock_timeout", f"lock '{name}' not acquired within {timeout:g} s")
                self._cond.wait(left)
            self.locks[name] = run.execution_id
            return None

    def lock_release(self, run, params):
        with self._cond:
            if self.locks.get(params["name"]) == run.execution_id:
                del self.locks[params["name"]]
                self._cond.notify_all()
            return None

    # ----- executions -------------------------------------------------------------------

    def execution_create(self, run, params):
        with self._cond:
            child_id = f"{run.execution_id}.{len(self.executions) + 1}"
            record = {
                "id": child_id,
                "name": params.get("name") or params.get("flow_name") or params.get("connector_name"),
                "type": params["type"],
                "flow_name": params.get("flow_name"),
                "connector_name": params.get("connector_name"),
                "connector_type": params.get("connector_type"),
                "input_value": params.get("input_value"),
                "output_value": None,
                "message": None,
                "priority": params.get("priority"),
                "status": "QUEUED" if params["start"] else "CREATED",
                "parent_execution_id": run.execution_id,
                "top_execution_id": run.execution_id,
            }
            self.executions[child_id] = record
            return dict(record)

    def _execution(self, execution_id):
        record = self.executions.get(execution_id)
        if record is None:
            raise CallError("not_found", f"execution '{execution_id}' does not exist")
        return record

    def execution_start(self, run, params):
        with self._cond:
            record = self._execution(params["id"])
            record["status"] = "QUEUED"
            return dict(record)

    def _outcome(self, record):
        name = record["flow_name"] or record["connector_name"] or record["connector_type"]
        outcome = self.outcomes.get(name, ("SUCCEEDED", None, {"echo": record["input_value"]}))
        if isinstance(outcome, list):
            outcome = outcome.pop(0) if len(outcome) > 1 else outcome[0]
        return outcome

    def execution_wait(self, run, params):
        with self._cond:
            records = [self._execution(i) for i in params["ids"]]
            when = params.get("return_when", "ALL_ENDED")
            for record in records:
                if condition_met(when, records):
                    break
                if record["status"] in ENDED or record["status"] == "CREATED":
                    continue
                status, message, output = self._outcome(record)
                if status not in ENDED:
                    continue
                record.update(status=status, message=message, output_value=output)
            if not condition_met(when, records):
                # The real runner would block until the timeout (or for ever): never hang here.
                raise CallError("timeout", f"execution.wait timed out after {params.get('timeout')} s")
            return {"records": [dict(r) for r in records]}

    def execution_get(self, run, params):
        with self._cond:
            return dict(self._execution(params["id"]))

    def execution_list(self, run, params):
        with self._cond:
            parent = params.get("parent_execution_id")
            records = [dict(r) for r in self.executions.values() if parent is None or r["parent_execution_id"] == parent]
            if params.get("sort", "-created_at") == "-created_at":
                records.reverse()  # insertion order stands in for created_at
            offset = params.get("offset") or 0
            return {"records": records[offset : offset + (params.get("limit") or 1000)]}

    def execution_update(self, run, params):
        with self._cond:
            record = self.executions.setdefault(params["id"], {"id": params["id"]})
            record.update(params["fields"])
            return dict(record)

    def execution_cancel(self, run, params):
        with self._cond:
            record = self._execution(params["id"])
            if record["status"] not in ENDED:
                record["status"] = "STOPPED"
            return dict(record)

    def execution_pause(self, run, params):
        with self._cond:
            record = self._execution(params["id"])
            record["status"] = "PAUSED"
            return dict(record)

    def execution_webhook_response(self, run, params):
        return None

    # ----- messages ---------------------------------------------------------------------

    def message_create(self, run, params):
        with self._cond:
            message_id = f"m{len(self.messages) + 1}"
            self.messages[message_id] = dict(params)
            return {"id": message_id}

    def message_wait(self, run, params):
        response = self.responses.get(params["id"], {"approved": True})
        if response is None:
            raise CallError("timeout", f"message '{params['id']}' was not answered in time")
        return {"response": response}


class LocalContext:
    """flow_api's ExecutionContext in this process, answered by a FakePlatform: for unit tests
    of flow_api without a worker. Calls go through JSON and wire.error_from_reply, as on the
    socket."""

    def __init__(self, platform, execution_id="e1", files_dir=None, flows_dir=None, record=None):
        self.platform = platform
        self.execution_id = execution_id
        self.record = record or {"id": execution_id, "type": "FLOW", "status": "RUNNING"}
        self.files_dir = files_dir or tempfile.mkdtemp(prefix="flows-files-")
        self.flows_dir = flows_dir or tempfile.mkdtemp(prefix="flows-flows-")
        self.logs = []  # (stream, text)
        self.sent = []

    def call(self, method, params):
        from flows_worker import wire

        try:
            params = json.loads(wire.dumps(params))
        except (TypeError, ValueError) as exc:
            from flow_api.exceptions import FlowApiError

            raise FlowApiError(f"{method}: the parameters must be JSON serialisable ({exc})") from None
        try:
            result = self.platform(self, method, params)
        except Exception as exc:  # noqa: BLE001 - an error reply
            raise wire.error_from_reply(method, {"message": str(exc), "code": getattr(exc, "code", None)}) from None
        return json.loads(wire.dumps(result))

    def send(self, message):
        self.sent.append(message)

    def log(self, stream, text):
        self.logs.append((stream, text))

    def wait_resume(self):
        pass
