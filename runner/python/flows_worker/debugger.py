"""The worker's debugger (issue 4; docs/debug-protocol.md, "Worker side").

With the Job's ``debug`` null nothing here runs: no trace hook, no instrumentation — only the
``debug`` message handler and a SIGUSR2 handler are registered, so that ``attach`` can switch the
debugger on later. With ``debug`` set:

- The flow's code is compiled with a cheap ``__flows_bp__(LINE)`` call before the statements of
  breakpoint lines (debug_instrument.py). Code between breakpoints runs at full speed.
- Tracing (``sys.settrace``, only for the flow thread, only frames of the flow's own files) is on
  only while stepping, for a requested pause, for ``stop_on_entry``, for the ``raised`` exception
  filter (call/exception events only, no line events), and as the fallback for breakpoints
  added at run time to code that was not instrumented for them.
- The flow runs in the main thread. Requests arrive on the channel's I/O thread; the ones that
  need the flow thread (tracing on, inspection while stopped) are handed to it: through a
  SIGUSR2 sent to the main thread while it runs (its handler switches tracing on in the running
  frames), or through a task queue while it is stopped (so evaluate may call ``this.*``).
"""

import os
import re
import signal
import sys
import threading

from flows_worker import debug_instrument, debug_variables
from flows_worker.debug_variables import Refs, short_repr

_PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HIDDEN = tuple(os.path.join(_PYTHON_DIR, d) + os.sep for d in ("flows_worker", "flow_api"))
_STDLIB = os.path.dirname(os.__file__) + os.sep

_SIGNAL = getattr(signal, "SIGUSR2", None)

# The worker's debugger once ``debug`` is set or ``attach`` came; None otherwise.
current = None

_STOPPED_COMMANDS = {"stackTrace", "scopes", "variables", "evaluate", "setVariable"}
_RESUME_COMMANDS = {"continue", "next", "stepIn", "stepOut"}


def setup(job, channel):
    """Called by the worker before loading: the message handler, and the debugger if asked."""
    global current
    channel.handlers["debug"] = lambda message: _on_message(job, channel, message)
    if _SIGNAL is not None and hasattr(signal, "pthread_kill"):
        try:
            signal.signal(_SIGNAL, _on_signal)
        except (ValueError, OSError):
            pass
    config = job.get("debug")
    if config:
        current = Debugger(job, channel)
        current.enable(config, at_start=True)
    return current


def instrument(job, filename, source, code):
    """The loader's hook: the flow's code with breakpoint hooks (``code`` when not debugging)."""
    dbg = current
    if dbg is None or not dbg.enabled:
        return code
    return dbg.instrument(filename, source, code)


def before_handler(handler):
    if current is not None and current.enabled:
        current.before_handler(handler)


def on_uncaught(exc):
    if current is not None and current.enabled:
        current.on_uncaught(exc)


def _on_message(job, channel, message):
    global current
    if current is None:
        current = Debugger(job, channel)
    current.on_message(message)


def _on_signal(signum, frame):
    dbg = current
    if dbg is not None and not dbg.stopped:
        dbg.apply_trace(frame)


def _hook(line):
    dbg = current
    if dbg is None or not dbg.enabled or dbg.stopped:
        return
    frame = sys._getframe(1)
    if frame.f_trace is not None and frame.f_trace_lines and sys.gettrace() is not None:
        return  # the line trace of this frame handles its breakpoints
    bps = dbg.by_line.get((frame.f_code.co_filename, line))
    if bps:
        dbg.hit(frame, bps)


_user_cache = {}


def is_user_file(filename):
    """Files of the flow (and its helpers): not flows_worker / flow_api, not the stdlib."""
    user = _user_cache.get(filename)
    if user is None:
        if filename.startswith("<"):
            user = filename.startswith("<script ")
        else:
            user = not filename.startswith(_HIDDEN) and not filename.startswith(_STDLIB)
        _user_cache[filename] = user
    return user


def _depth(frame):
    n = 0
    while frame is not None:
        n += 1
        frame = frame.f_back
    return n


_HIT = re.compile(r"^\s*(>=|<=|==|>|<|%)?\s*(\d+)\s*$")


def _hit_condition_holds(condition, hits):
    m = _HIT.match(condition or "")
    if not m:
        return True
    op, n = m.group(1) or "==", int(m.group(2))
    if op == "%":
        return n > 0 and hits % n == 0
    return {">=": hits >= n, "<=": hits <= n, "==": hits == n, ">": hits > n, "<": hits < n}[op]


def _exception_text(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _locals_to_fast(frame):
    try:
        import ctypes

        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
    except (AttributeError, ImportError):  # 3.13+: f_locals writes through
        pass


class _Resume(Exception):
    pass


class Debugger:
    def __init__(self, job, channel):
        self.job = job
        self.channel = channel
        self.main_ident = threading.main_thread().ident
        self.enabled = False
        self.requested = {}  # path -> [bp]
        self.by_line = {}  # (path, line) -> [bp]
        self.instrumented = {}  # path -> lines that hold hooks
        self.trace_files = set()  # files whose breakpoints need the line trace
        self.filters = set()
        self.entry_code = None
        self.stop_on_entry = False
        self.step = None  # None or (kind, depth)
        self.step_frame = None
        self.step_line = None
        self.step_lasti = -1
        self.pause_requested = False
        self.last_exc = None
        self.next_bp_id = 1
        self.next_frame_id = 1
        self.cond = threading.Condition()
        self.stopped = False
        self.tasks = []
        self.stack = []  # [(frame, line)] of the stop
        self.frames = {}  # frame id -> (frame, line)
        self.refs = Refs()

    # ----- configuration (I/O thread or start) ----------------------------------------------

    def enable(self, config, at_start=False):
        self.enabled = True
        debug_instrument.install_hook(_hook)
        self.stop_on_entry = bool(config.get("stop_on_entry")) and at_start
        self.filters = set(config.get("exception_filters") or ())
        moved_events = []
        for path, bps in (config.get("breakpoints") or {}).items():
            for answer in self.set_breakpoints(path, bps or [], request_trace=False):
                if answer.get("_moved") or not answer["verified"]:
                    moved_events.append((path, answer))
        if at_start:
            self.channel.ensure_io()
            self.apply_trace(sys._getframe())
        else:
            self.request_trace()
        for path, answer in moved_events:
            self.event(
                "breakpoint",
                {
                    "reason": "changed",
                    "breakpoint": {
                        "id": answer["id"],
                        "verified": answer["verified"],
                        "line": answer["line"],
                        "source": {"path": path},
                    },
                },
            )

    def disable(self):
        self.enabled = False
        self.requested.clear()
        self.by_line = {}
        self.trace_files = set()
        self.filters = set()
        self.step = None
        self.entry_code = None
        self.pause_requested = False

    def set_breakpoints(self, path, bps, request_trace=True):
        lines = debug_instrument.code_lines(path)
        answers, placed = [], []
        for bp in bps:
            requested = int(bp.get("line") or 0)
            line = debug_instrument.move_line(lines, requested) if lines is not None else requested
            entry = {
                "id": self.next_bp_id,
                "line": line if line is not None else requested,
                "condition": bp.get("condition") or None,
                "hitCondition": bp.get("hitCondition") or None,
                "logMessage": bp.get("logMessage") or None,
                "hits": 0,
            }
            self.next_bp_id += 1
            answer = {"id": entry["id"], "verified": line is not None, "line": entry["line"]}
            if line is not None:
                placed.append(entry)
                if line != requested:
                    answer["_moved"] = True
            answers.append(answer)
        self.requested[path] = placed
        by_line = {k: v for k, v in self.by_line.items() if k[0] != path}
        for entry in placed:
            by_line.setdefault((path, entry["line"]), []).append(entry)
        self.by_line = by_line
        self._refresh_trace_files(request_trace)
        return answers

    def _refresh_trace_files(self, request_trace=True):
        loaded = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
        trace_files = set()
        for path, placed in self.requested.items():
            if not placed:
                continue
            if path in self.instrumented:
                if not {e["line"] for e in placed} <= self.instrumented[path]:
                    trace_files.add(path)
            elif path in loaded:
                trace_files.add(path)
        changed = trace_files != self.trace_files
        self.trace_files = trace_files
        if changed and request_trace:
            self.request_trace()

    # ----- instrumentation (main thread, while loading) ---------------------------------------

    def instrument(self, filename, source, code):
        if source is None:
            source = debug_instrument.read_source(filename)
            if source is None:
                return code
        debug_instrument.code_lines(filename, source)
        lines = {e["line"] for e in self.requested.get(filename, ())}
        new = debug_instrument.compile_instrumented(source, filename, lines)
        if new is None:
            return code
        self.instrumented[filename] = lines
        self._refresh_trace_files()
        return new

    def before_handler(self, handler):
        self._refresh_trace_files(request_trace=False)  # helper modules the flow imported
        if self.stop_on_entry:
            self.stop_on_entry = False
            self.entry_code = getattr(handler, "__code__", None)
        self.apply_trace(sys._getframe())

    # ----- tracing (flow thread) ------------------------------------------------------------

    def _wants(self, frame):
        """(trace this frame?, with line events?)"""
        code = frame.f_code
        if not is_user_file(code.co_filename):
            return False, False
        lines = (
            self.step is not None
            or self.pause_requested
            or code is self.entry_code
            or code.co_filename in self.trace_files
        )
        return lines or "raised" in self.filters, lines

    def _needs_trace(self):
        return self.enabled and bool(
            self.step is not None
            or self.pause_requested
            or self.entry_code is not None
            or self.trace_files
            or "raised" in self.filters
        )

    def apply_trace(self, frame):
        """Switch tracing on or off for this (the flow) thread and its running frames."""
        if threading.get_ident() != self.main_ident:
            return
        on = self._needs_trace()
        sys.settrace(self._gtrace if on else None)
        while frame is not None:
            if on:
                wanted, lines = self._wants(frame)
            else:
                wanted = lines = False
            if wanted:
                frame.f_trace_lines = lines
                frame.f_trace = self._ltrace
            elif frame.f_trace is not None and is_user_file(frame.f_code.co_filename):
                frame.f_trace = None
            frame = frame.f_back

    def request_trace(self):
        """From any thread: make the flow thread (re)apply tracing soon."""
        if self.stopped:
            return  # applied when it resumes
        if threading.get_ident() == self.main_ident:
            self.apply_trace(sys._getframe(1))
        elif _SIGNAL is not None and hasattr(signal, "pthread_kill"):
            try:
                signal.pthread_kill(self.main_ident, _SIGNAL)
            except (OSError, ValueError):
                pass

    def _gtrace(self, frame, event, arg):
        if self.stopped or not self.enabled:
            return None
        wanted, lines = self._wants(frame)
        if not wanted:
            return None
        frame.f_trace_lines = lines
        return self._ltrace

    def _ltrace(self, frame, event, arg):
        if self.stopped or not self.enabled:
            return None
        try:
            if event == "line":
                self._on_line(frame)
            elif event == "return":
                self._on_return(frame)
            elif event == "exception":
                self._on_exception(frame, arg)
        except Exception as exc:  # noqa: BLE001 - an exception here would switch tracing off
            self.output(f"debugger error: {exc!r}\n", "stderr")
        return None

    def _on_line(self, frame):
        if not frame.f_trace_lines:
            return
        if self.pause_requested:
            self.pause_requested = False
            self.stop(frame, "pause", description="Paused")
            return
        if self.entry_code is not None and frame.f_code is self.entry_code:
            self.entry_code = None
            self.stop(frame, "entry", description="Paused on entry")
            return
        bps = self.by_line.get((frame.f_code.co_filename, frame.f_lineno))
        if bps and self.hit(frame, bps):
            return
        if self.step is None:
            return
        kind, depth = self.step
        if frame is self.step_frame and frame.f_lineno == self.step_line and frame.f_lasti >= self.step_lasti:
            return  # the rest of the line it stopped on
        if kind == "in" or (kind == "over" and _depth(frame) <= depth) or (kind == "out" and _depth(frame) < depth):
            self.stop(frame, "step")

    def _on_return(self, frame):
        if self.step is None or frame is not self.step_frame:
            return
        caller = frame.f_back
        while caller is not None and not is_user_file(caller.f_code.co_filename):
            caller = caller.f_back
        if caller is None:
            return  # leaving the flow: run on; a later breakpoint can still stop
        self.stop(caller, "step")

    def _on_exception(self, frame, arg):
        if "raised" not in self.filters:
            return
        exc = arg[1]
        if exc is self.last_exc or self._ignored(exc):
            return
        self.last_exc = exc
        self.stop(frame, "exception", description="Paused on exception", text=_exception_text(exc))

    @staticmethod
    def _ignored(exc):
        from flow_api.exceptions import LifecycleSignal

        if isinstance(exc, (StopIteration, StopAsyncIteration, GeneratorExit, LifecycleSignal)):
            return True
        return isinstance(exc, SystemExit) and exc.code in (None, 0)

    def on_uncaught(self, exc):
        if "uncaught" not in self.filters or self._ignored(exc):
            return
        stack = []
        tb = exc.__traceback__
        while tb is not None:
            if is_user_file(tb.tb_frame.f_code.co_filename):
                stack.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
        if not stack:
            return
        stack.reverse()
        self.step = None
        self.stop(
            stack[0][0], "exception", description="Uncaught exception", text=_exception_text(exc), stack=stack,
            can_step=False,
        )

    # ----- breakpoints ----------------------------------------------------------------------

    def hit(self, frame, bps):
        """Check the breakpoints of the frame's line; stops when one says so (returns True)."""
        stop_ids = []
        for bp in bps:
            if bp["condition"]:
                try:
                    if not eval(bp["condition"], frame.f_globals, frame.f_locals):
                        continue
                except Exception as exc:  # noqa: BLE001 - stop, and say why
                    self.output(f"breakpoint condition {bp['condition']!r} failed: {_exception_text(exc)}\n", "stderr")
            bp["hits"] += 1
            if bp["hitCondition"] and not _hit_condition_holds(bp["hitCondition"], bp["hits"]):
                continue
            if bp["logMessage"]:
                self.output(self._interpolate(bp["logMessage"], frame) + "\n", "console")
                continue
            stop_ids.append(bp["id"])
        if not stop_ids:
            return False
        self.stop(frame, "breakpoint", description="Paused on breakpoint", hit_ids=stop_ids)
        return True

    @staticmethod
    def _interpolate(message, frame):
        def value(match):
            expression = match.group(1)
            try:
                result = eval(expression, frame.f_globals, frame.f_locals)
            except Exception as exc:  # noqa: BLE001
                return f"<{_exception_text(exc)}>"
            return result if isinstance(result, str) else short_repr(result)

        return re.sub(r"\{([^{}]+)\}", value, message)

    # ----- stopping (flow thread) -----------------------------------------------------------

    def stop(self, frame, reason, description=None, text=None, hit_ids=None, stack=None, can_step=True):
        if stack is None:
            stack = []
            f = frame
            while f is not None:
                if is_user_file(f.f_code.co_filename):
                    stack.append((f, f.f_lineno))
                f = f.f_back
        if not stack:
            return
        with self.cond:
            self.stack = stack
            self.frames = {}
            for f, line in stack:
                self.frames[self.next_frame_id] = (f, line)
                self.next_frame_id += 1
            self.refs.clear()
            self.tasks = []
            self.stopped = True
        body = {"reason": reason, "allThreadsStopped": False}
        if description:
            body["description"] = description
        if text:
            body["text"] = text
        if hit_ids:
            body["hitBreakpointIds"] = hit_ids
        self.event("stopped", body)
        action = "continue"
        try:
            while True:
                with self.cond:
                    while not self.tasks:
                        self.cond.wait()
                    task = self.tasks.pop(0)
                action = self._run_task(*task)
                if action is not None:
                    break
        finally:
            with self.cond:
                self.stopped = False
                self.frames = {}
                self.refs.clear()
        top, line = stack[0]
        if action == "continue" or not can_step or not self.enabled:
            self.step = None
        else:
            kind = {"next": "over", "stepIn": "in", "stepOut": "out"}[action]
            self.step = (kind, _depth(top))
            self.step_frame, self.step_line, self.step_lasti = top, line, top.f_lasti
        self.event("continued", {"allThreadsContinued": False})
        self.apply_trace(sys._getframe())

    def _run_task(self, seq, command, args):
        """Runs on the stopped flow thread; returns the resume action for resume commands."""
        if command == "__resume__":
            return "continue"
        if command in _RESUME_COMMANDS:
            self.respond(seq, True, {"allThreadsContinued": False} if command == "continue" else {})
            return command
        try:
            body = getattr(self, "_cmd_" + command)(args or {})
        except Exception as exc:  # noqa: BLE001 - a failed request, not a failed flow
            self.respond(seq, False, None, _exception_text(exc))
        else:
            self.respond(seq, True, body)
        return None

    # ----- messages (I/O thread) ------------------------------------------------------------

    def respond(self, seq, success, body=None, message=None):
        response = {"seq": seq, "success": success, "body": body if body is not None else {}}
        if message is not None:
            response["message"] = message
        try:
            self.channel.send({"type": "debug", "response": response})
        except (TypeError, ValueError) as exc:
            self.channel.send({"type": "debug", "response": {"seq": seq, "success": False, "body": {}, "message": str(exc)}})

    def event(self, event, body):
        self.channel.send({"type": "debug", "event": {"event": event, "body": body}})

    def output(self, text, category="console"):
        self.event("output", {"category": category, "output": text})

    def on_message(self, message):
        seq = message.get("seq")
        command = message.get("command")
        args = message.get("arguments") or {}
        if command in _STOPPED_COMMANDS or command in _RESUME_COMMANDS:
            with self.cond:
                if self.stopped:
                    self.tasks.append((seq, command, args))
                    self.cond.notify_all()
                    return
            if command in _RESUME_COMMANDS:
                self.respond(seq, True, {"allThreadsContinued": False})
            else:
                self.respond(seq, False, None, "the flow is not stopped")
            return
        try:
            body = getattr(self, "_io_" + str(command))(args)
        except AttributeError:
            self.respond(seq, False, None, f"unknown debug command {command!r}")
        except Exception as exc:  # noqa: BLE001
            self.respond(seq, False, None, _exception_text(exc))
        else:
            self.respond(seq, True, body)

    def _io_attach(self, args):
        if (self.job.get("record") or {}).get("is_productive"):
            raise RuntimeError("a productive execution cannot be debugged")
        self.disable()
        self.enable(args)
        return {}

    def _io_detach(self, args):
        self.disable()
        with self.cond:
            if self.stopped:
                self.tasks.append((None, "__resume__", {}))
                self.cond.notify_all()
        self.request_trace()
        return {}

    def _io_setBreakpoints(self, args):
        if not self.enabled:
            self.enable({})
        path = (args.get("source") or {}).get("path")
        if not path:
            raise ValueError("setBreakpoints needs source.path")
        answers = self.set_breakpoints(path, args.get("breakpoints") or [])
        return {"breakpoints": [{k: v for k, v in a.items() if not k.startswith("_")} for a in answers]}

    def _io_setExceptionBreakpoints(self, args):
        if not self.enabled:
            self.enable({})
        self.filters = set(args.get("filters") or ())
        self.request_trace()
        return {}

    def _io_pause(self, args):
        if not self.enabled:
            self.enable({})
        if not self.stopped:
            self.pause_requested = True
            self.request_trace()
        return {}

    def _io_threads(self, args):
        return {"threads": [{"id": 1, "name": str(self.job.get("execution_id"))}]}

    # ----- inspection (stopped flow thread) ---------------------------------------------------

    def _frame(self, frame_id):
        if frame_id is None and self.stack:
            return self.stack[0]
        entry = self.frames.get(frame_id)
        if entry is None:
            raise ValueError(f"no frame {frame_id}")
        return entry

    def _cmd_stackTrace(self, args):
        start = args.get("startFrame") or 0
        levels = args.get("levels") or 0
        items = list(self.frames.items())
        selected = items[start : start + levels] if levels else items[start:]
        frames = []
        for frame_id, (frame, line) in selected:
            path = frame.f_code.co_filename
            frames.append(
                {
                    "id": frame_id,
                    "name": frame.f_code.co_name,
                    "line": line,
                    "column": 1,
                    "source": {"path": path, "name": os.path.basename(path)},
                }
            )
        return {"stackFrames": frames, "totalFrames": len(items)}

    def _cmd_scopes(self, args):
        frame, _ = self._frame(args.get("frameId"))
        return {
            "scopes": [
                {"name": "Locals", "presentationHint": "locals", "expensive": False,
                 "variablesReference": self.refs.add("locals", None, frame)},
                {"name": "Globals", "expensive": False, "variablesReference": self.refs.add("globals", None, frame)},
                {"name": "Execution", "expensive": False, "variablesReference": self.refs.add("execution", None, frame)},
            ]
        }

    def _execution_fields(self):
        record = dict(self.job.get("record") or {})
        record["id"] = record.get("id") or self.job.get("execution_id")
        return debug_variables.execution_fields(record, this=self.stopped)

    def _items(self, ref, flt=None):
        """[(name, value, key)] of a variables reference."""
        entry = self.refs.get(ref)
        if entry is None:
            raise ValueError(f"no variables reference {ref}")
        kind, obj, frame = entry
        if kind == "locals":
            return [(k, v, k) for k, v in frame.f_locals.items()], entry
        if kind == "globals":
            return [
                (k, v, k) for k, v in frame.f_globals.items() if not k.startswith("__")
            ], entry
        if kind == "execution":
            return [(k, v, k) for k, v in self._execution_fields()], entry
        return debug_variables.children(obj, flt), entry

    def _cmd_variables(self, args):
        items, (kind, _, _) = self._items(args.get("variablesReference"), args.get("filter"))
        items = debug_variables.page(items, args.get("start"), args.get("count"))
        plain = kind in ("locals", "globals")
        return {
            "variables": [self.refs.variable(name, value, name if plain else None) for name, value, _ in items]
        }

    def _cmd_evaluate(self, args):
        expression = args.get("expression") or ""
        if self.stack:
            frame, _ = self._frame(args.get("frameId"))
            g, loc = frame.f_globals, frame.f_locals
        else:
            frame, g, loc = None, {}, {}
        try:
            code = compile(expression, "<debug>", "eval")
        except SyntaxError:
            if args.get("context") != "repl":
                raise
            exec(compile(expression, "<debug>", "exec"), g, loc)
            if frame is not None:
                _locals_to_fast(frame)
            return {"result": "", "variablesReference": 0}
        value = eval(code, g, loc)
        var = self.refs.variable("", value)
        body = {"result": var["value"], "type": var["type"], "variablesReference": var["variablesReference"]}
        for key in ("indexedVariables", "namedVariables"):
            if key in var:
                body[key] = var[key]
        return body

    def _cmd_setVariable(self, args):
        ref, name, text = args.get("variablesReference"), args.get("name"), args.get("value")
        entry = self.refs.get(ref)
        if entry is None:
            raise ValueError(f"no variables reference {ref}")
        kind, obj, frame = entry
        top = frame or self.stack[0][0]
        value = eval(text, top.f_globals, top.f_locals)
        if kind == "locals":
            frame.f_locals[name] = value
            _locals_to_fast(frame)
        elif kind == "globals":
            frame.f_globals[name] = value
        elif kind == "value":
            if isinstance(obj, list):
                obj[int(name)] = value
            elif isinstance(obj, dict):
                keys = [key for n, _, key in debug_variables.children(obj) if n == name]
                if not keys:
                    raise KeyError(name)
                obj[keys[0]] = value
            elif hasattr(obj, "__dict__"):
                setattr(obj, name, value)
            else:
                raise TypeError(f"cannot set items of a {type(obj).__name__}")
        else:
            raise TypeError("the Execution scope is read-only")
        var = self.refs.variable(name, value)
        return {"value": var["value"], "type": var["type"], "variablesReference": var["variablesReference"]}
