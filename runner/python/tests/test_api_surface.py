"""The public surface of flow_api: the editor's completions and the type stubs are generated from
it, so every public name must be documented and annotated, and it must import anywhere."""

import ast
import inspect
import os
import subprocess
import sys
import textwrap
import unittest
import warnings

import flow_api
from flow_api import _context, exceptions

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The exceptions the platform's documentation names (flow_api.exceptions.<name>).
PLATFORM_EXCEPTIONS = """CloudomationException DependencyFailedError DependencyTimeoutError EngineException
    ExtraInputError InternalError InvalidInputError LockTimeoutError MessageResponseTimeoutError
    MissingInputError PermissionDenied ResourceNotFoundError SchemaValidationError
    TimeoutExceededError""".split()


def public_classes():
    """The classes flow_api exports (one entry per class: CloudomationException is an alias)."""
    seen = {}
    for name in flow_api.__all__:
        value = getattr(flow_api, name)
        if inspect.isclass(value) and value.__module__.startswith("flow_api"):
            seen.setdefault(value, name)
    return [(name, cls) for cls, name in seen.items()]


def own_methods(cls):
    """Public functions defined in flow_api classes (cls or its flow_api bases), by name."""
    methods = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("flow_api"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                methods[name] = (klass, value)
    return methods


def documented_assignments(module):
    """(name, documented?) of public assignments at the top of ``module`` and in its classes.

    A constant is documented by a ``#:`` comment on the line(s) just above it (Sphinx style)
    or a string literal just below it.
    """
    source = inspect.getsource(module)
    lines = source.splitlines()
    tree = ast.parse(source)
    found = []

    def visit(body, owner):
        for index, node in enumerate(body):
            if isinstance(node, ast.ClassDef):
                visit(node.body, node.name)
                continue
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target = node.target
            else:
                continue
            if not isinstance(target, ast.Name) or target.id.startswith("_") or target.id == "__all__":
                continue
            value = node.value
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "TypeVar":
                continue  # a type variable of the annotations, not a constant
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            following = body[index + 1] if index + 1 < len(body) else None
            below = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            found.append((f"{module.__name__}.{owner + '.' if owner else ''}{target.id}", above.startswith("#:") or below))

    visit(tree.body, None)
    return found


class DocumentedAndAnnotatedTest(unittest.TestCase):
    def test_every_public_class_has_a_docstring(self):
        for name, cls in public_classes():
            self.assertTrue(cls.__doc__ and cls.__doc__.strip(), name)

    def test_every_public_method_has_a_docstring(self):
        missing = [
            f"{klass.__name__}.{name}"
            for _, cls in public_classes()
            for name, (klass, func) in own_methods(cls).items()
            if not (func.__doc__ and func.__doc__.strip())
        ]
        self.assertEqual(sorted(set(missing)), [])

    def test_every_public_method_is_annotated(self):
        missing = []
        for _, cls in public_classes():
            for name, (klass, func) in own_methods(cls).items():
                signature = inspect.signature(func)
                for param in list(signature.parameters.values()):
                    if param.name in ("self", "cls"):
                        continue
                    if param.annotation is inspect.Parameter.empty:
                        missing.append(f"{klass.__name__}.{name}({param.name})")
                if signature.return_annotation is inspect.Signature.empty:
                    missing.append(f"{klass.__name__}.{name} -> ?")
        self.assertEqual(sorted(set(missing)), [])

    def test_the_main_classes_have_their_methods(self):
        # Not a closed list: the methods flows written for the platform use most.
        expected = {
            flow_api.Execution: "flow connect task clone using wait wait_for log set_output get load save "
            "success error end cancel sleep message children parent top run run_async webhook_json_response",
            flow_api.System: "execution setting file flow connection message settings files executions "
            "get_own_user get_env_name",
            flow_api.Setting: "get load set save exists delete archive acquire release",
            flow_api.File: "get save get_text_content save_text_content get_bytes_content save_bytes_content "
            "get_base64_content save_base64_content",
            flow_api.Message: "get wait",
        }
        for cls, names in expected.items():
            for name in names.split():
                self.assertTrue(callable(getattr(cls, name, None)), f"{cls.__name__}.{name}")
        self.assertIs(flow_api.System.return_when, flow_api.ReturnWhen)

    def test_every_public_constant_is_documented(self):
        modules = {sys.modules[cls.__module__] for _, cls in public_classes()} | {flow_api.statuses}
        undocumented = []
        for module in sorted(modules, key=lambda m: m.__name__):
            for name, documented in documented_assignments(module):
                if not documented:
                    undocumented.append(name)
        # A subclass may re-assign a constant its base documents (Setting.FIELDS, ...).
        inherited = {"RESOURCE", "FIELDS", "DEFAULT_BY", "status"}
        self.assertEqual([n for n in undocumented if n.rsplit(".", 1)[1] not in inherited], [])
        for name in ("FILTER_OPS", "PLATFORM_STATUS", "STATUSES"):
            self.assertIn(name, flow_api.__all__)
        for member in flow_api.ReturnWhen:
            self.assertEqual(member, member.value)

    def test_all_lists_only_existing_names(self):
        for name in flow_api.__all__:
            self.assertTrue(hasattr(flow_api, name), name)
        for name in exceptions.__all__:
            self.assertTrue(hasattr(exceptions, name), name)


class ExceptionsTest(unittest.TestCase):
    def test_the_platforms_exception_names_exist(self):
        for name in PLATFORM_EXCEPTIONS:
            cls = getattr(flow_api.exceptions, name, None)
            self.assertTrue(inspect.isclass(cls) and issubclass(cls, flow_api.EngineException), name)
            self.assertIs(getattr(flow_api, name), cls, name)
        self.assertIs(flow_api.CloudomationException, flow_api.EngineException)
        for name in ("LockTimeoutError", "DependencyTimeoutError", "MessageResponseTimeoutError"):
            self.assertTrue(issubclass(getattr(exceptions, name), exceptions.TimeoutExceededError), name)
        self.assertTrue(issubclass(exceptions.TimeoutExceededError, TimeoutError))
        self.assertTrue(issubclass(flow_api.FlowApiError, flow_api.EngineException))

    def test_lifecycle_signals_are_not_exceptions(self):
        self.assertFalse(issubclass(flow_api.LifecycleSignal, Exception))
        self.assertTrue(issubclass(flow_api.LifecycleSignal, BaseException))
        for cls, status in (
            (flow_api.ExecutionSuccess, "ENDED_SUCCESS"),
            (flow_api.ExecutionError, "ENDED_ERROR"),
            (flow_api.ExecutionCancel, "ENDED_CANCELLED"),
        ):
            self.assertTrue(issubclass(cls, flow_api.LifecycleSignal))
            self.assertEqual(cls.status, status)
        this = flow_api.Execution("e1", _record={"id": "e1"}, _is_this=True)
        try:
            try:
                this.success("done")
            except Exception:  # noqa: BLE001 - what a flow might write
                self.fail("except Exception caught this.success()")
        except flow_api.ExecutionSuccess as signal:
            self.assertEqual(signal.message, "done")

    def test_dependency_failed_error_carries_the_children(self):
        self.assertIsNone(flow_api.DependencyFailedError("x").execution)
        self.assertEqual(flow_api.DependencyFailedError("x").executions, [])
        child = flow_api.Execution("c1", _record={"id": "c1", "status": "FAILED"})
        error = flow_api.DependencyFailedError("x", child)
        self.assertEqual((error.execution, error.executions), (child, [child]))


class StatusesTest(unittest.TestCase):
    def test_runner_statuses_and_platform_names(self):
        self.assertEqual(
            flow_api.STATUSES,
            tuple(
                "CREATED QUEUED SCHEDULED BLOCKED RUNNING PAUSED SUCCEEDED FAILED STOPPED INVALID "
                "PARTIAL_SUCCEEDED".split()
            ),
        )
        self.assertEqual(
            flow_api.PLATFORM_STATUS,
            {"ENDED_SUCCESS": "SUCCEEDED", "ENDED_ERROR": "FAILED", "ENDED_CANCELLED": "STOPPED"},
        )


class DeprecatedApiTest(unittest.TestCase):
    """Deprecated platform API (``flow_api._deprecation.deprecated``): the editor's catalogue and
    the stubs read the marks (gen_api.py); at run time a call still works, warns, and writes a
    deprecation note to the execution log, as the platform does on every call."""

    def deprecated_methods(self):
        return {
            f"{cls.__name__}.{name}": func
            for _, cls in public_classes()
            for name, (klass, func) in own_methods(cls).items()
            if getattr(func, "__deprecated__", None)
        }

    def test_the_platforms_deprecations_are_marked_with_an_existing_replacement(self):
        found = self.deprecated_methods()
        # TASK executions became CONNECTION: this.task('REST', ...) is this.connect(connector_type='REST', ...).
        self.assertEqual(sorted(found), ["Execution.task", "Wrapped.task"])
        for qualified, func in found.items():
            replacement, usage = func.__replacement__
            cls = getattr(flow_api, qualified.split(".")[0])
            self.assertTrue(callable(getattr(cls, replacement, None)), qualified)
            self.assertFalse(getattr(getattr(cls, replacement), "__deprecated__", None), qualified)
            self.assertIn(usage, func.__deprecated__)
            self.assertEqual(inspect.signature(func).parameters["connector_type"].annotation, "str")

    def test_a_call_still_works_warns_and_writes_a_deprecation_note(self):
        class Context:
            execution_id = "e1"
            record: dict = {}
            flows_dir = files_dir = "."

            def __init__(self):
                self.logs, self.calls = [], []

            def log(self, stream, text):
                self.logs.append((stream, text))

            def call(self, method, params):
                self.calls.append((method, params))
                return {"id": "c1", "type": params.get("type"), "status": "CREATED"}

        context = Context()
        token = _context.install(context)
        try:
            this = flow_api.Execution("e1", _record={"id": "e1"}, _is_this=True)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                this.task("REST", url="http://x", run=False)
        finally:
            _context.install(None)
            _context._current.reset(token)
        self.assertEqual([w.category for w in caught], [DeprecationWarning])
        self.assertEqual(caught[0].filename, __file__)  # blames the caller, not flow_api
        self.assertEqual(
            context.logs,
            [
                (
                    "log",
                    "[WARNING] Deprecated: task() is deprecated and will be removed: "
                    "use connect(connector_type=...) instead.",
                )
            ],
        )
        self.assertEqual(
            [(m, p["type"], p["connector_type"], p["input_value"]) for m, p in context.calls],
            [("execution.create", "CONNECTION", "REST", {"url": "http://x"})],
        )


class OutsideAWorkerTest(unittest.TestCase):
    def setUp(self):
        _context.install(None)

    def test_import_works_outside_a_worker(self):
        # A fresh interpreter: importing must need no runner, no environment and no socket.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWS_")}
        env["PYTHONPATH"] = PYTHON_DIR
        script = textwrap.dedent(
            """
            import flow_api, flow_api.exceptions
            from flow_api import _context
            assert not _context.attached()
            system = flow_api.System()
            setting = system.setting('x')  # a handle: nothing is read yet
            print('ok', flow_api.ReturnWhen.ALL_ENDED.value)
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd="/", capture_output=True, text=True, timeout=30
        )
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))
        self.assertEqual(proc.stdout.strip(), "ok ALL_ENDED")
        self.assertNotIn("flows_worker", proc.stdout)

    def test_calls_fail_with_a_clear_flow_api_error(self):
        system = flow_api.System()
        this = flow_api.Execution("e1", _record={"id": "e1"}, _is_this=True)
        for call in (
            lambda: system.setting("x").get("value"),
            lambda: system.setting("x").acquire(),
            lambda: system.file("a.txt").get_text_content(),
            lambda: list(system.settings()),
            lambda: this.log("hello"),
            lambda: this.flow("child"),
            lambda: this.set_output("a", 1),
        ):
            with self.assertRaises(flow_api.FlowApiError) as caught:
                call()
            self.assertIn("not connected to a Flows runner", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
