"""Loading a flow: compile with its real filename, run its module code, check ``handler``.

A flow that cannot be loaded ends INVALID with the line to point at (a syntax error, no
``handler``, a handler that cannot take ``(system, this)``). An exception raised by the flow's
own module code is a runtime error like any other and ends FAILED (see failure.py).
"""

import inspect
import linecache
import os
import sys
import traceback
import types

FLOW_MODULE = "__flow__"


class FlowInvalid(Exception):
    """The flow cannot be run; ``error`` is the ``error`` object of the end message."""

    def __init__(self, message, filename, line, type_="InvalidFlow", traceback=None):
        super().__init__(message)
        self.error = {
            "type": type_,
            "message": message,
            "traceback": traceback,
            "filename": filename,
            "line": line,
        }


class LoadedFlow:
    """The flow's handler, whether it takes ``inputs``, and the file it came from."""

    def __init__(self, handler, takes_inputs, filename):
        self.handler = handler
        self.takes_inputs = takes_inputs
        self.filename = filename


# flow_path -> ((mtime_ns, size), code object or FlowInvalid), filled by the fork server.
_compiled = {}
_MAX_COMPILED = 512


def precompile(job):
    """In the fork server, before forking: compile the job's flow once per version of its file.

    The children inherit the code object, so running the same flow again skips compile()
    (the costliest step of loading a small flow). Anything unusual is left to the child.
    Returns whether it compiled something new.
    """
    if job.get("kind") != "flow":
        return False
    path = job.get("flow_path") or ""
    try:
        stat = os.stat(path)
    except OSError:
        _compiled.pop(path, None)
        return False
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _compiled.get(path)
    if cached is not None and cached[0] == version:
        return False
    if len(_compiled) >= _MAX_COMPILED:
        _compiled.clear()
    try:
        _compiled[path] = (version, _compile_file(path))
    except FlowInvalid as invalid:
        _compiled[path] = (version, invalid)
    return True


def load(job):
    """Compile and run the flow of ``job`` (kind flow or script); returns a LoadedFlow.

    Raises FlowInvalid; exceptions from the flow's module code propagate unchanged.
    """
    filename = filename_of(job)
    if job.get("kind") == "script":
        source = job.get("script") or ""
        # Tracebacks of an ad-hoc script read their source lines from linecache.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = _compile(source, filename)
    else:
        cached = _compiled.get(filename)  # checked against the file just before the fork
        code = cached[1] if cached is not None else _compile_file(filename)
        if isinstance(code, FlowInvalid):
            raise code
    if job.get("debug"):  # breakpoint hooks, compiled for this child only
        from flows_worker import debugger

        code = debugger.instrument(job, filename, source if job.get("kind") == "script" else None, code)

    # A real module in sys.modules: dataclasses, pickle and typing look the module up by name.
    module = types.ModuleType(FLOW_MODULE)
    module.__file__ = filename
    sys.modules[FLOW_MODULE] = module
    exec(code, module.__dict__)

    handler = module.__dict__.get("handler")
    if handler is None:
        raise FlowInvalid("the flow has no handler: define def handler(system, this)", filename, 1)
    if not callable(handler):
        raise FlowInvalid("'handler' is not a function: define def handler(system, this)", filename, 1)
    return LoadedFlow(handler, _takes_inputs(handler, filename), filename)


def _compile_file(path):
    try:
        with open(path, "rb") as f:
            source = f.read()  # bytes: compile() then honours a coding cookie
    except OSError as exc:
        raise FlowInvalid(f"cannot read the flow: {exc.strerror}", path, None, "OSError") from None
    return _compile(source, path)


def _compile(source, filename):
    try:
        return compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc))
        raise FlowInvalid(exc.msg, exc.filename or filename, exc.lineno, type(exc).__name__, detail) from None
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        raise FlowInvalid(str(exc), filename, None, "SyntaxError") from None


def filename_of(job):
    """The filename tracebacks show for the job's code (a pseudo-name for ad-hoc scripts)."""
    if job.get("kind") == "script":
        return f"<script {job.get('execution_id')}>"
    return job.get("flow_path") or ""


def _takes_inputs(handler, filename):
    """True for handler(system, this, inputs), False for handler(system, this); else FlowInvalid."""
    code = getattr(handler, "__code__", None)
    line = code.co_firstlineno if code is not None else 1
    if type(handler) is types.FunctionType:
        # The fast path: reading the code object costs nothing, inspect.signature ~20 µs.
        positional = code.co_argcount
        required = positional - len(handler.__defaults__ or ())
        varargs = bool(code.co_flags & inspect.CO_VARARGS)
        required_kwonly = set(code.co_varnames[positional : positional + code.co_kwonlyargcount]) - set(
            handler.__kwdefaults__ or ()
        )
    else:
        try:
            params = list(inspect.signature(handler).parameters.values())
        except (TypeError, ValueError):
            return False
        pos_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        positional = sum(p.kind in pos_kinds for p in params)
        required = sum(p.kind in pos_kinds and p.default is p.empty for p in params)
        varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        required_kwonly = {p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
    if required > 3 or required_kwonly or (positional < 2 and not varargs):
        raise FlowInvalid(
            "handler must take (system, this) or (system, this, inputs)", filename, line, "InvalidHandler"
        )
    return positional >= 3 or varargs
