"""The worker: runs one execution (a flow, an ad-hoc script or a connector) and reports it.

Usually entered through :func:`run` in a child forked by forkserver.py; where fork does not
exist the runner starts ``python3 -u worker.py '<job json>'`` instead, which behaves the same.
See docs/worker-protocol.md.
"""

if __name__ == "__main__" and not __package__:
    # Started as a script: make `flows_worker` and `flow_api` importable from the folder above
    # (instead of this folder, whose module names must not shadow a flow's imports).
    import os as _os
    import sys as _sys

    _sys.path[0] = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))

import os
import re
import sys

from flow_api.exceptions import LifecycleSignal
from flow_api.execution import Execution
from flow_api.records import Record
from flow_api.statuses import runner_status
from flow_api.system import System
from flows_worker import context, debugger, failure, loader, wire
from flows_worker.capture import Capture
from flows_worker.channel import Channel, connect
from flows_worker.connectors import ConnectorError, run_connector


def run(job):
    """Run ``job`` from hello to end; returns the process exit code (0 once ``end`` is sent)."""
    apply_limits(job.get("limits"))
    run_one(job)
    return 0


def run_one(job):
    """Run ``job`` on a connection of its own, from hello to end; returns that Channel (ended).

    A pooled worker (pool.py) calls it once per execution and restores the process after it."""
    channel = Channel(connect(os.environ["FLOWS_WORKER_ADDRESS"]))
    channel.send(
        {
            "type": "hello",
            "execution_id": str(job.get("execution_id")),
            "secret": os.environ.get("FLOWS_WORKER_SECRET", ""),
            "pid": os.getpid(),
        }
    )
    channel.watch_socket()
    capture = Capture(channel)
    capture.install()
    context.install(job, channel)
    debugger.setup(job, channel)  # the `debug` handler; the debugger itself only if job.debug
    _enter_flows_dir(job.get("flows_dir"))
    try:
        end = _execute(job, channel)
    except BaseException as exc:  # noqa: BLE001 - a worker bug must still end the execution
        end = {"status": "FAILED", "message": f"Flows worker error: {failure.one_line(exc)}", "error": None}
    capture.finish()
    _send_end(channel, end)
    return channel


def apply_limits(limits, pooled=False):
    """The runner's resource limits, set on this process (children inherit them): too much memory
    is a MemoryError in the flow, too much CPU time a SIGXCPU that ends the process. A pooled
    worker has spent CPU time on earlier executions: its limit counts from now."""
    if not limits:
        return
    try:
        import resource
    except ImportError:  # not POSIX: the limits do not apply
        return
    for key, which, scale in (
        ("max_memory_mb", resource.RLIMIT_AS, 1024 * 1024),
        ("max_cpu_seconds", resource.RLIMIT_CPU, 1),
    ):
        value = limits.get(key)
        if value:
            _, hard = resource.getrlimit(which)
            soft = int(value * scale)
            if pooled and which == resource.RLIMIT_CPU:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                soft += int(usage.ru_utime + usage.ru_stime + 1)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))


def _enter_flows_dir(flows_dir):
    # Flows import helper modules from their folder and open files relative to it (SQLite
    # databases of named connectors, too), whatever folder the runner was started in.
    if not flows_dir:
        return
    sys.path.insert(0, flows_dir)
    try:
        os.chdir(flows_dir)
    except OSError:
        pass


def _execute(job, channel):
    if job.get("kind") == "connection":
        return _run_connector(job, channel)
    try:
        flow = loader.load(job)
    except loader.FlowInvalid as invalid:
        return {"status": "INVALID", "message": str(invalid), "error": invalid.error}
    except BaseException as exc:  # noqa: BLE001 - the flow's module code raised
        return _ended_by(exc, loader.filename_of(job), job)

    channel.send({"type": "started"})
    record = job.get("record") or {}
    args = [System(), Execution(job["execution_id"], _record=record, _is_this=True)]
    if flow.takes_inputs:
        inputs = record.get("input_value")
        args.append({} if inputs is None else inputs)
    debugger.before_handler(flow.handler)
    try:
        result = flow.handler(*args)
    except BaseException as exc:  # noqa: BLE001 - everything a flow raises ends it
        debugger.on_uncaught(exc)
        return _ended_by(exc, flow.filename, job)
    end = {"status": "SUCCEEDED", "message": None, "error": None}
    # `return this.save(...)` returns the execution itself: its output is saved already.
    if result is not None and not isinstance(result, Record):
        end["output_value"] = result
    return end


def _ended_by(exc, filename, job):
    if isinstance(exc, LifecycleSignal):  # this.success() / error() / end() / cancel()
        return {"status": runner_status(exc.status), "message": exc.message, "error": None}
    if isinstance(exc, SystemExit) and exc.code in (None, 0):
        return {"status": "SUCCEEDED", "message": None, "error": None}
    limit = (job.get("limits") or {}).get("max_memory_mb")
    if isinstance(exc, MemoryError) and limit and not exc.args:
        exc.args = (f"over the execution's memory limit of {limit} MB (the runner's --max-memory-mb)",)
    return {
        "status": "FAILED",
        "message": failure.one_line(exc),
        "error": failure.describe(exc, filename, job.get("flows_dir")),
    }


def _run_connector(job, channel):
    connector_type = job.get("connector_type")
    channel.send({"type": "started"})
    try:
        output = run_connector(connector_type, job.get("connector_params"))
    except ConnectorError as exc:
        text = str(exc) if type(exc) is ConnectorError else f"{type(exc).__mro__[2].__name__}: {exc}"
        end = {"status": "FAILED", "message": text, "error": None}
        if exc.output is not None:
            end["output_value"] = exc.output
        return end
    except Exception as exc:  # noqa: BLE001 - a connector bug fails this execution only
        return {"status": "FAILED", "message": f"{connector_type}: {failure.one_line(exc)}", "error": None}
    return {"status": "SUCCEEDED", "message": None, "output_value": output, "error": None}


def _json_size(value):
    """Bytes of ``value`` as JSON, or None when JSON cannot hold it (the send reports that)."""
    try:
        return len(wire.dumps(value).encode("utf-8"))
    except (TypeError, ValueError, RecursionError):
        return None


def _send_end(channel, end):
    try:
        wire.check_depth(end.get("output_value"), wire.MAX_JSON_DEPTH)
    except wire.TooDeep as exc:  # the runner would refuse it: this execution's failure
        path = wire.format_path(["output_value", *exc.path])
        message = f"{path}: nested deeper than {exc.limit} levels; the output is not saved"
        end = {"status": "FAILED", "message": message, "error": None}
    if end.get("output_value") is not None:
        size = _json_size(end["output_value"])
        if size is not None and size > wire.MAX_OUTPUT_BYTES:
            message = (
                f"output_value is {size / 1048576:.1f} MB of JSON; the limit is "
                f"{wire.MAX_OUTPUT_BYTES // 1048576} MB; the output is not saved"
            )
            end = {"status": "FAILED", "message": message, "error": None}
    try:
        channel.end(end)
    except (TypeError, ValueError, RecursionError) as exc:  # something JSON cannot hold
        channel.log("stderr", f"the handler's return value is not saved as output_value: {exc}")
        end.pop("output_value", None)
        channel.end(end)


def main(argv):
    """``worker.py '<job json>'``: the no-fork way to run one execution."""
    if len(argv) != 1:
        sys.stderr.write("usage: worker.py '<job json>'\n")
        return 2
    try:
        job = wire.loads(argv[0])
        if not isinstance(job, dict):
            raise ValueError("the job is not a JSON object")
    except Exception as exc:  # noqa: BLE001 - whatever it is, that execution fails, clearly
        return _unreadable_job(argv[0], exc)
    return run(job)


_EXECUTION_ID = re.compile(r'\s*\{\s*"execution_id"\s*:\s*"([\w-]{1,100})"')


def _unreadable_job(text, exc):
    """A job that cannot be parsed still names its execution (the runner writes its id first):
    report that execution FAILED with the reason, rather than die without a word."""
    reason = str(exc) if isinstance(exc, wire.TooDeep) else f"{type(exc).__name__}: {exc}"
    sys.stderr.write(f"flows worker: cannot read the job: {reason}\n")
    match = _EXECUTION_ID.match(text)
    if not match:
        return 2
    channel = Channel(connect(os.environ["FLOWS_WORKER_ADDRESS"]))
    channel.send(
        {
            "type": "hello",
            "execution_id": match.group(1),
            "secret": os.environ.get("FLOWS_WORKER_SECRET", ""),
            "pid": os.getpid(),
        }
    )
    channel.end({"status": "FAILED", "message": f"the worker cannot read its job: {reason}", "error": None})
    return 0


if __name__ == "__main__":
    # os._exit: threads the flow left running must not keep the process (and execution) alive.
    code = main(sys.argv[1:])
    os._exit(code)
