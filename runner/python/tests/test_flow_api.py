"""flow_api calls from real forked workers, answered by an in-memory fake of the runner."""

import base64
import json
import os
import shutil
import tempfile
import unittest

import flow_api
from flow_api import _context
from flow_api.records import compile_filter
from flow_api.statuses import AliasName, flow_status, flow_type, runner_status
from flows_worker import wire
from tests.fake_runner import NEVER, CallError, FakePlatform, LocalContext, RunnerTestCase


class FlowApiTest(RunnerTestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.runner.on_call = self.platform

    def run_flow(self, source, **job):
        run = self.runner.run_flow(source, **job)
        if run.end["status"] != "SUCCEEDED":
            self.fail(f"flow ended {run.end}")
        return run.end.get("output_value")

    def test_flow_child_round_trip(self):
        output = self.run_flow(
            """
            def handler(system, this):
                child = this.flow('my-child-flow', custom_parameter='value', inputs={'a': 1}, priority=5)
                status = child.get('status')
                return [status, child.get('output_value'), status == 'SUCCEEDED', status in ('ENDED_SUCCESS',)]
            """
        )
        create = dict(self.platform.calls)["execution.create"]
        self.assertEqual(create["type"], "FLOW")
        self.assertEqual(create["flow_name"], "my-child-flow")
        self.assertEqual(create["input_value"], {"a": 1, "custom_parameter": "value"})
        self.assertEqual((create["priority"], create["start"]), (5, True))
        self.assertEqual(output, ["ENDED_SUCCESS", {"echo": {"a": 1, "custom_parameter": "value"}}, True, True])

    def test_failed_child_raises_dependency_failed_in_the_parent(self):
        self.platform.outcomes["broken"] = ("FAILED", "ZeroDivisionError: division by zero", None)
        run = self.runner.run_flow("def handler(system, this):\n    this.flow('broken')\n")
        self.assertEqual(run.end["status"], "FAILED")
        self.assertEqual(run.end["error"]["type"], "DependencyFailedError")
        self.assertEqual(run.end["error"]["line"], 2)
        for part in ("flow 'broken'", "ended ENDED_ERROR", "division by zero", run.execution_id + "."):
            self.assertIn(part, run.end["message"])

    def test_dependency_failed_error_carries_the_child(self):
        self.platform.outcomes["broken"] = ("STOPPED", None, None)
        output = self.run_flow(
            """
            import flow_api

            def handler(system, this):
                try:
                    this.flow('broken')
                except flow_api.DependencyFailedError as exc:
                    return [exc.execution.get('status'), exc.execution.get('status') == 'STOPPED']
            """
        )
        self.assertEqual(output, ["ENDED_CANCELLED", True])

    def test_unstarted_children_and_wait_for(self):
        output = self.run_flow(
            """
            def handler(system, this):
                first = this.flow('one', run=False)
                assert first.get('status') == 'CREATED'
                first.run_async()
                second = this.flow('two', wait=False, x=2)
                done = this.wait_for(first, second)
                return [c.get('output_value') for c in done] + [len(this.children())]
            """
        )
        self.assertEqual(output, [{"echo": {}}, {"echo": {"x": 2}}, 2])
        waits = self.platform.called("execution.wait")
        self.assertEqual(len(waits), 1)
        self.assertEqual([i.rsplit(".", 1)[1] for i in waits[0]["ids"]], ["1", "2"])
        self.assertEqual(waits[0]["return_when"], "ALL_SUCCEEDED")

    def test_connect_and_task_create_connection_children(self):
        output = self.run_flow(
            """
            def handler(system, this):
                a = this.connect('my-database', fetchval='SELECT 1+1')
                b = this.connect(connector_type='REST', url='http://x', name='call x')
                c = this.task('SHELL', command='true')
                return [a.get('type'), a.get('type') == 'TASK', b.get('output_value'), c.get('status')]
            """
        )
        creates = [p for m, p in self.platform.calls if m == "execution.create"]
        self.assertEqual(creates[0]["connector_name"], "my-database")
        self.assertEqual(creates[0]["input_value"], {"fetchval": "SELECT 1+1"})
        self.assertEqual((creates[1]["connector_type"], creates[1]["name"]), ("REST", "call x"))
        self.assertEqual(creates[1]["input_value"], {"url": "http://x"})
        self.assertEqual(creates[2]["connector_type"], "SHELL")
        self.assertEqual(output, ["CONNECTION", True, {"echo": {"url": "http://x"}}, "ENDED_SUCCESS"])

    def test_save_set_output_and_load(self):
        output = self.run_flow(
            """
            def handler(system, this):
                this.save(message='half way', name='renamed')
                this.set_output('a', 1)
                this.set_output('b', 2)
                return [this.get('output_value'), this.load('message', 'name')]
            """
        )
        self.assertEqual(output, [{"a": 1, "b": 2}, ["half way", "renamed"]])

    def test_error_replies_become_flow_api_exceptions(self):
        output = self.run_flow(
            """
            import flow_api

            def handler(system, this):
                caught = []
                try:
                    system.setting('missing').get('value')
                except flow_api.ResourceNotFoundError as exc:
                    caught.append(str(exc))
                try:
                    this.log(system.execution('no-such-id').get('status'))
                except flow_api.exceptions.EngineException as exc:
                    caught.append(type(exc).__name__)
                return caught
            """
        )
        self.assertEqual(output, ["setting 'missing' does not exist", "ResourceNotFoundError"])

    def test_settings(self):
        output = self.run_flow(
            """
            def handler(system, this):
                s = system.setting('token')
                before = s.exists()
                s.save(value={'k': 'v'})
                fresh = system.setting('token').get('value')
                s.delete()
                made = system.setting('made', value=3)
                return [before, fresh, s.exists(), made.get('value'), [x.get('name') for x in system.settings()]]
            """
        )
        self.assertEqual(output, [False, {"k": "v"}, False, 3, ["made"]])

    def test_files_stay_inside_the_files_folder(self):
        output = self.run_flow(
            """
            import flow_api

            def handler(system, this):
                f = system.file('reports/today.txt')
                f.save_text_content('hello')
                escaped = []
                for name in ('../outside.txt', '/etc/passwd', 'a/../../x'):
                    try:
                        system.file(name).save_text_content('x')
                    except flow_api.FlowApiError:
                        escaped.append(name)
                listed = [x.get('name') for x in system.files(dir='reports')]
                return [f.exists(), f.get_text_content(), f.get('content'), listed, f.delete(), f.exists(), escaped]
            """
        )
        self.assertEqual(
            output,
            [True, "hello", "hello", ["reports/today.txt"], None, False, ["../outside.txt", "/etc/passwd", "a/../../x"]],
        )
        self.assertFalse(os.path.exists(os.path.join(self.runner.tmp, "outside.txt")))

    def test_flows_messages_user_and_relatives(self):
        self.runner.write_flow("lib/other", "# another flow\n")
        output = self.run_flow(
            """
            def handler(system, this):
                other = system.flow('lib/other')
                msg = system.message('Approve?', body={'type': 'object'}).wait()
                return [other.exists(), other.get('script'), system.flow('nope').exists(),
                        msg.get('response'), system.get_own_user().get('name') != '',
                        this.parent(), this.top().get('id') == this.get('id')]
            """
        )
        self.assertEqual(output, [True, "# another flow\n", False, {"approved": True}, True, None, True])

    def test_webhook_json_response(self):
        self.run_flow("def handler(system, this):\n    this.webhook_json_response({'ok': True}, status_code=201)\n")
        params = dict(self.platform.calls)["execution.webhook_response"]
        self.assertEqual(params["status_code"], 201)
        self.assertEqual(json.loads(params["body"]), {"ok": True})
        self.assertEqual((params["content_type"], params["encoding"]), ("application/json", "text"))

    def test_calls_from_several_threads(self):
        output = self.run_flow(
            """
            import threading

            def handler(system, this):
                results = {}
                def work(i):
                    system.setting(f's{i}').save(value=i)
                    results[i] = system.setting(f's{i}').get('value')
                threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
                for t in threads: t.start()
                for t in threads: t.join()
                return sorted(results.values())
            """
        )
        self.assertEqual(output, list(range(8)))



# ----- flow_api in this process, against a LocalContext (no worker) ----------------------------


class InProcessTestCase(unittest.TestCase):
    """Installs a LocalContext over a FakePlatform for each test; ``this`` is the running flow."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="flow-api-test-")
        self.platform = FakePlatform()
        self.context = LocalContext(
            self.platform, files_dir=os.path.join(self.tmp, "files"), flows_dir=os.path.join(self.tmp, "flows")
        )
        _context.install(self.context)
        self.system = flow_api.System()
        self.this = flow_api.Execution("e1", _record=dict(self.context.record), _is_this=True)

    def tearDown(self):
        _context.install(None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def methods(self):
        return [m for m, _ in self.platform.calls]


class AliasNameTest(unittest.TestCase):
    def test_equal_to_both_names_text_is_the_platforms(self):
        status = flow_status("SUCCEEDED")
        self.assertIsInstance(status, AliasName)
        self.assertEqual(str(status), "ENDED_SUCCESS")
        self.assertTrue(status == "ENDED_SUCCESS" and status == "SUCCEEDED")
        self.assertTrue("SUCCEEDED" == status and "ENDED_SUCCESS" == status)
        self.assertFalse(status != "SUCCEEDED")
        self.assertNotEqual(status, "FAILED")
        self.assertNotEqual(status, "ENDED_ERROR")
        self.assertNotEqual(status, 1)
        self.assertEqual(repr(status), "'ENDED_SUCCESS'")
        self.assertEqual(flow_status("RUNNING"), "RUNNING")
        self.assertNotIsInstance(flow_status("RUNNING"), AliasName)
        self.assertIsNone(flow_status(None))

    def test_in_a_list_or_tuple_with_either_name(self):
        status = flow_status("FAILED")
        self.assertIn(status, ("PAUSED", "ENDED_ERROR"))
        self.assertIn(status, ["FAILED"])
        self.assertNotIn(status, ("ENDED_SUCCESS", "SUCCEEDED"))
        self.assertIn(flow_status("BLOCKED"), ("WAITING",))

    def test_hash_uses_the_platforms_name(self):
        status = flow_status("STOPPED")
        self.assertEqual(hash(status), hash("ENDED_CANCELLED"))
        self.assertIn(status, {"ENDED_CANCELLED"})
        self.assertEqual({"ENDED_CANCELLED": 1}[status], 1)

    def test_json_copy_and_pickle_keep_the_platforms_text(self):
        import copy
        import pickle

        status = flow_status("SUCCEEDED")
        self.assertEqual(json.dumps({"s": status}), '{"s": "ENDED_SUCCESS"}')
        self.assertEqual(wire.dumps([status]), '["ENDED_SUCCESS"]')
        self.assertEqual(type(pickle.loads(pickle.dumps(status))), str)
        self.assertEqual(copy.copy(status), "ENDED_SUCCESS")

    def test_types_and_runner_status(self):
        kind = flow_type("CONNECTION")
        self.assertEqual((str(kind), kind == "TASK", kind == "CONNECTION"), ("CONNECTION", True, True))
        self.assertEqual(flow_type("FLOW"), "FLOW")
        self.assertEqual(runner_status("ENDED_SUCCESS"), "SUCCEEDED")
        self.assertEqual(runner_status("ended_error"), "FAILED")
        self.assertEqual(runner_status("ENDED_CANCELLED"), "STOPPED")
        self.assertEqual(runner_status("WAITING"), "BLOCKED")
        self.assertEqual(runner_status(flow_status("INVALID")), "INVALID")
        for signal in (flow_api.ExecutionSuccess, flow_api.ExecutionError, flow_api.ExecutionCancel):
            self.assertIn(runner_status(signal.status), ("SUCCEEDED", "FAILED", "STOPPED"))


class CompileFilterTest(unittest.TestCase):
    RECORDS = [
        {"name": "backup-daily", "value": 3, "tags": ["a"]},
        {"name": "backup-weekly", "value": 10, "tags": []},
        {"name": "Deploy", "value": None, "tags": ["a", "b"]},
    ]

    def names(self, spec):
        matches = compile_filter(spec)
        return [r["name"] for r in self.RECORDS if matches(r.get)]

    def test_eq_is_the_default_op(self):
        self.assertEqual(self.names({"field": "value", "op": "eq", "value": 3}), ["backup-daily"])
        self.assertEqual(self.names({"field": "value", "value": 10}), ["backup-weekly"])
        self.assertEqual(self.names(None), ["backup-daily", "backup-weekly", "Deploy"])

    def test_like_and_ilike(self):
        self.assertEqual(self.names({"field": "name", "op": "like", "value": "backup-%"}), ["backup-daily", "backup-weekly"])
        self.assertEqual(self.names({"field": "name", "op": "like", "value": "backup-_____"}), ["backup-daily"])
        self.assertEqual(self.names({"field": "name", "op": "like", "value": "deploy"}), [])
        self.assertEqual(self.names({"field": "name", "op": "ilike", "value": "deploy"}), ["Deploy"])
        self.assertEqual(self.names({"field": "name", "op": "like", "value": "a.b"}), [])  # no regex

    def test_in_comparisons_and_none(self):
        self.assertEqual(self.names({"field": "value", "op": "in", "value": [3, None]}), ["backup-daily", "Deploy"])
        self.assertEqual(self.names({"field": "value", "op": "gt", "value": 5}), ["backup-weekly"])  # None is skipped
        self.assertEqual(self.names({"field": "value", "op": "is_null", "value": True}), ["Deploy"])
        self.assertEqual(self.names({"field": "tags", "op": "contains", "value": "b"}), ["Deploy"])
        self.assertEqual(self.names({"field": "name", "op": "gt", "value": 1}), [])  # str > int: no match, no error

    def test_and_or_not_and_lists(self):
        backup = {"field": "name", "op": "like", "value": "backup-%"}
        small = {"field": "value", "op": "lt", "value": 5}
        self.assertEqual(self.names({"and": [backup, small]}), ["backup-daily"])
        self.assertEqual(self.names([backup, small]), ["backup-daily"])
        self.assertEqual(self.names({"or": [small, {"field": "name", "value": "Deploy"}]}), ["backup-daily", "Deploy"])
        self.assertEqual(self.names({"not": backup}), ["Deploy"])
        self.assertEqual(self.names({"not": {"or": [backup]}}), ["Deploy"])

    def test_unknown_op_names_the_ops(self):
        with self.assertRaises(flow_api.FlowApiError) as caught:
            compile_filter({"field": "name", "op": "regex", "value": "x"})
        message = str(caught.exception)
        self.assertIn("'regex'", message)
        for op in ("eq", "like", "in", "not_in", "is_null"):
            self.assertIn(op, message)
        self.assertEqual(set(flow_api.FILTER_OPS) >= {"eq", "ne", "like", "ilike", "in", "lt", "gt"}, True)
        with self.assertRaisesRegex(flow_api.FlowApiError, "field"):
            compile_filter({"op": "eq", "value": 1})
        with self.assertRaisesRegex(flow_api.FlowApiError, "dict"):
            compile_filter("name = x")


class RecordTest(InProcessTestCase):
    def test_get_one_several_or_all_fields(self):
        self.platform.add_record("setting", "limit", value=42, description="max items")
        setting = self.system.setting("limit")
        self.assertEqual(setting.get("value"), 42)
        self.assertEqual(setting.get("name", "value"), ["limit", 42])
        record = setting.get()
        self.assertIsInstance(record, dict)
        self.assertEqual((record["name"], record["value"], record["description"]), ("limit", 42, "max items"))
        self.assertIsNone(setting.get("modified_by"))  # a documented field the record lacks
        self.assertEqual(self.methods(), ["record.get"])  # read once, then from the handle's copy
        self.platform.records[("setting", "limit")]["value"] = 43
        self.assertEqual(setting.get("value"), 42)
        self.assertEqual(setting.load("value"), 43)
        self.assertEqual(self.platform.called("record.get")[0], {"type": "setting", "key": "limit", "by": "name"})

    def test_unknown_field_is_an_error_naming_the_fields(self):
        self.platform.add_record("setting", "limit", value=1)
        with self.assertRaises(flow_api.FlowApiError) as caught:
            self.system.setting("limit").get("vaule")
        self.assertIn("no field 'vaule'", str(caught.exception))
        self.assertIn("value", str(caught.exception))

    def test_missing_record_raises_resource_not_found(self):
        with self.assertRaises(flow_api.ResourceNotFoundError) as caught:
            self.system.setting("missing").get("value")
        self.assertEqual(str(caught.exception), "setting 'missing' does not exist")
        self.assertIsInstance(caught.exception, flow_api.EngineException)
        self.assertFalse(self.system.setting("missing").exists())
        with self.assertRaises(flow_api.ResourceNotFoundError):
            self.system.connection("missing").load()

    def test_reply_codes_map_to_exceptions(self):
        expected = {
            "not_found": flow_api.ResourceNotFoundError,
            "lock_timeout": flow_api.LockTimeoutError,
            "timeout": flow_api.TimeoutExceededError,
            "permission": flow_api.PermissionDenied,
            "invalid": flow_api.FlowApiError,
            None: flow_api.FlowApiError,
            "something-new": flow_api.FlowApiError,
        }
        for code, cls in expected.items():
            self.platform.record_get = lambda run, params, code=code: (_ for _ in ()).throw(CallError(code, "no"))
            with self.assertRaises(cls, msg=code) as caught:
                self.system.setting("x").get()
            self.assertIs(type(caught.exception), cls, code)
        self.assertEqual(str(caught.exception), "record.get: no")  # the call is named for FlowApiError

    def test_save_init_fields_delete_archive_and_listings(self):
        made = self.system.setting("a", value=1)
        self.assertEqual(self.platform.called("record.save")[0], {"type": "setting", "key": "a", "by": "name", "fields": {"value": 1}})
        self.assertEqual(made.get("value"), 1)
        self.system.setting("b").save(value=2)
        by_id = self.system.setting(made.get("id"), by="id")
        self.assertEqual(by_id.get("name"), "a")
        self.assertEqual(self.system.setting("b").set(value=5).get("value"), 5)  # set() changes the copy only
        self.assertEqual(self.system.setting("b").get("value"), 2)
        self.system.setting("c", value=3).archive()
        self.assertEqual([s.get("name") for s in self.system.settings()], ["a", "b"])
        self.assertEqual([s.get("name") for s in self.system.settings(include_archived=True)], ["a", "b", "c"])
        self.assertEqual(
            [s.get("name") for s in self.system.settings(filter={"field": "value", "op": "ge", "value": 2})], ["b"]
        )
        self.assertIsNone(self.system.setting("a").delete())
        self.assertFalse(self.system.setting("a").exists())
        self.system.setting("a").delete()  # deleting what does not exist is fine
        with self.assertRaisesRegex(flow_api.FlowApiError, "needs a name"):
            flow_api.Setting().save(value=1)
        with self.assertRaisesRegex(flow_api.FlowApiError, "by must be"):
            self.system.setting("a", by="title")


class SettingLockTest(InProcessTestCase):
    def test_acquire_and_release_send_lock_calls(self):
        setting = self.system.setting("deploy")
        self.assertIs(setting.acquire(), setting)
        setting.acquire(timeout=5)
        setting.release()
        self.assertEqual(
            self.platform.calls,
            [
                ("lock.acquire", {"name": "deploy"}),
                ("lock.acquire", {"name": "deploy", "timeout": 5.0}),
                ("lock.release", {"name": "deploy"}),
            ],
        )
        self.assertEqual(self.platform.locks, {})

    def test_lock_held_elsewhere_times_out(self):
        self.platform.locks["deploy"] = "another-execution"
        with self.assertRaises(flow_api.LockTimeoutError):
            self.system.setting("deploy").acquire(timeout=0.05)
        self.assertIsInstance(flow_api.LockTimeoutError("x"), flow_api.TimeoutExceededError)

    def test_lock_by_id_uses_the_settings_name(self):
        record = self.platform.add_record("setting", "deploy", value=None)
        self.system.setting(record["id"], by="id").acquire()
        self.assertEqual(self.platform.locks, {"deploy": "e1"})


class FileTest(InProcessTestCase):
    def path(self, name):
        return os.path.join(self.context.files_dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def test_text_round_trip(self):
        f = self.system.file("notes/today.txt")
        f.save(content="grüße\n")
        self.assertEqual(self.read("notes/today.txt"), "grüße\n".encode("utf-8"))
        self.assertEqual(f.get("content"), "grüße\n")
        self.assertEqual(f.get("is_binary", "content_size_bytes"), [False, len("grüße\n".encode())])
        self.assertEqual(self.system.file("notes/today.txt").get_text_content(), "grüße\n")
        self.system.file("latin.txt").save_text_content("é", encoding="latin-1")
        self.assertEqual(self.read("latin.txt"), b"\xe9")
        self.assertEqual(self.system.file("latin.txt").get_text_content("latin-1"), "é")
        self.assertEqual(self.platform.calls, [])  # files are local

    def test_bytes_and_base64_round_trip(self):
        data = bytes(range(256))
        f = self.system.file("blob.bin")
        f.save_bytes_content(data)
        self.assertEqual(f.get_bytes_content(), data)
        self.assertEqual(f.get_base64_content(), base64.b64encode(data).decode())
        self.assertEqual(f.get("is_binary"), True)
        self.assertEqual(base64.b64decode(f.get("content")), data)  # binary content reads as base64
        self.system.file("copy.bin").save_base64_content(f.get_base64_content())
        self.assertEqual(self.read("copy.bin"), data)
        self.system.file("raw.bin").save(content=data)
        self.assertEqual(self.read("raw.bin"), data)

    def test_convert_binary_decodes_base64_content(self):
        encoded = base64.b64encode(b"\x00\x01binary").decode()
        self.system.file("converted.bin").save(content=encoded, convert_binary=True)
        self.assertEqual(self.read("converted.bin"), b"\x00\x01binary")
        self.system.file("kept.txt").save(content=encoded)
        self.assertEqual(self.read("kept.txt"), encoded.encode())

    def test_init_fields_rename_missing_and_listing(self):
        self.system.file("a.txt", content="A")
        self.assertEqual(self.read("a.txt"), b"A")
        self.system.file("a.txt").save(name="sub/b.txt")
        self.assertFalse(os.path.exists(self.path("a.txt")))
        self.assertEqual(self.read("sub/b.txt"), b"A")
        self.assertEqual([f.get("name") for f in self.system.files(glob="**/*.txt")], ["sub/b.txt"])
        self.assertEqual([f.get("name") for f in self.system.files()], [])
        with self.assertRaises(flow_api.ResourceNotFoundError):
            self.system.file("nope.txt").get("content")
        with self.assertRaises(flow_api.ResourceNotFoundError):
            self.system.file("nope.txt").get_text_content()
        for name in ("../x", "/etc/passwd"):
            with self.assertRaises(flow_api.FlowApiError):
                self.system.file(name).save(content="x")


class ExecutionUnitTest(InProcessTestCase):
    def test_log_with_args_keyword_pairs_and_level(self):
        self.this.log("total", 3, {"a": [1]})
        self.this.log(response={"ok": True}, user="ada")
        self.this.log("careful", level="warning", code=7)
        self.this.log("plain", level="INFO")
        self.assertEqual(
            self.context.logs,
            [
                ("log", 'total 3 {"a": [1]}'),
                ("log", 'response: {"ok": true}\nuser: ada'),
                ("log", "[WARNING] careful\n[WARNING] code: 7"),
                ("log", "plain"),
            ],
        )

    def test_set_output_with_a_key_or_keyword_pairs(self):
        self.this.set_output("total", 3)
        self.this.set_output(currency="EUR", items=[1])
        self.this.set_output("total", 4)
        updates = self.platform.called("execution.update")
        self.assertEqual(updates[0], {"id": "e1", "fields": {"output_value": {"total": 3}}})
        self.assertEqual(updates[-1]["fields"]["output_value"], {"total": 4, "currency": "EUR", "items": [1]})
        self.assertEqual(self.this.get("output_value"), {"total": 4, "currency": "EUR", "items": [1]})
        with self.assertRaisesRegex(flow_api.FlowApiError, "only output_value"):
            self.this.save(status="SUCCEEDED")

    def test_templates_send_nothing_until_cloned(self):
        template = self.this.connect("crm", save=False, path="/a", method="GET", priority=2)
        flow_template = self.this.flow("child", save=False, run=False, inputs={"a": 1, "b": 2}, name="tpl")
        self.assertEqual(self.platform.calls, [])
        self.assertEqual(template.get("status"), "CREATED")
        copy = template.clone(path="/b", name="second")
        create = self.platform.called("execution.create")[0]
        self.assertEqual(create["type"], "CONNECTION")
        self.assertEqual(create["connector_name"], "crm")
        self.assertEqual(create["input_value"], {"path": "/b", "method": "GET"})
        self.assertEqual((create["priority"], create["name"], create["start"]), (2, "second", True))
        self.assertEqual(copy.get("status"), "SUCCEEDED")
        self.assertEqual(self.platform.called("execution.wait")[0]["ids"], [copy.get("id")])
        flow_template.clone(b=3, wait=False)
        create = self.platform.called("execution.create")[1]
        self.assertEqual((create["flow_name"], create["name"]), ("child", "tpl"))
        self.assertEqual(create["input_value"], {"a": 1, "b": 3})
        self.assertEqual(len(self.platform.called("execution.wait")), 1)
        self.assertEqual(template.get("status"), "CREATED")  # the template itself never runs

    def test_run_false_then_run(self):
        child = self.this.flow("later", run=False, x=1)
        self.assertEqual(self.platform.called("execution.create")[0]["start"], False)
        self.assertEqual(child.get("status"), "CREATED")
        self.assertIs(child.run(), child)
        self.assertEqual(child.get("status"), "ENDED_SUCCESS")
        # get() of a child that has not ended reads it fresh (execution.get)
        self.assertEqual(
            [m for m in self.methods() if m != "execution.get"], ["execution.create", "execution.start", "execution.wait"]
        )

    def test_retry_wrapper_retries_max_tries_times(self):
        self.platform.outcomes["flaky"] = ("FAILED", "boom", None)
        with self.assertRaises(flow_api.DependencyFailedError) as caught:
            self.this.using("retry", max_tries=3).flow("flaky", n=1)
        self.assertEqual(len(self.platform.called("execution.create")), 3)
        self.assertEqual(caught.exception.execution.get("status"), "ENDED_ERROR")
        self.assertIn("boom", str(caught.exception))
        self.assertEqual([t for _, t in self.context.logs if t.startswith("retry")][-1][:15], "retry 3 of 3 af")

    def test_retry_wrapper_stops_at_the_first_success(self):
        self.platform.outcomes["flaky"] = [("FAILED", "boom", None), ("SUCCEEDED", None, "ok")]
        child = self.this.using("retry", max_tries=5).connect("flaky")
        self.assertEqual(child.get("output_value"), "ok")
        self.assertEqual(len(self.platform.called("execution.create")), 2)

    def test_timeout_wrapper_cancels_the_child(self):
        self.platform.outcomes["slow"] = NEVER
        with self.assertRaises(flow_api.DependencyTimeoutError):
            self.this.using("timeout", timeout_sec=0.1).flow("slow")
        self.assertEqual(self.platform.called("execution.wait")[0]["timeout"], 0.1)
        self.assertEqual(len(self.platform.called("execution.cancel")), 1)

    def test_unknown_wrapper_names_the_wrappers(self):
        with self.assertRaises(flow_api.FlowApiError) as caught:
            self.this.using("nope")
        self.assertIn("'nope'", str(caught.exception))
        self.assertIn("retry, timeout", str(caught.exception))
        with self.assertRaisesRegex(flow_api.FlowApiError, "max_tries"):
            self.this.using("retry", tries=3)
        self.assertEqual(self.platform.calls, [])

    def children(self, *names):
        return [self.this.flow(name, wait=False) for name in names]

    def test_wait_for_all_succeeded_raises_for_a_failed_child(self):
        self.platform.outcomes["bad"] = ("FAILED", "broken", None)
        ok, bad = self.children("ok", "bad")
        with self.assertRaises(flow_api.DependencyFailedError) as caught:
            self.this.wait_for(ok, bad)
        self.assertEqual(caught.exception.execution.get("id"), bad.get("id"))
        self.assertEqual([c.get("id") for c in caught.exception.executions], [bad.get("id")])
        self.assertEqual(self.platform.called("execution.wait")[0]["return_when"], "ALL_SUCCEEDED")

    def test_wait_for_all_ended_never_raises(self):
        self.platform.outcomes["bad"] = ("FAILED", "broken", None)
        children = self.children("ok", "bad")
        ended = self.this.wait_for(children, return_when=self.system.return_when.ALL_ENDED)
        self.assertEqual([c.get("status") for c in ended], ["ENDED_SUCCESS", "ENDED_ERROR"])
        failed = self.this.flow("bad", wait=flow_api.ReturnWhen.ALL_ENDED)  # wait= takes it too
        self.assertEqual(failed.get("status"), "ENDED_ERROR")

    def test_wait_for_first_ended_returns_a_failed_child_without_raising(self):
        self.platform.outcomes["bad"] = ("FAILED", "broken", None)
        bad, ok = self.children("bad", "ok")
        ended = self.this.wait_for(bad, ok, return_when="first_ended")
        self.assertEqual([c.get("id") for c in ended], [bad.get("id")])
        self.assertEqual(ok.get("status"), "PENDING")  # still queued: the runner's QUEUED

    def test_wait_for_first_succeeded_raises_only_if_all_failed(self):
        self.platform.outcomes["bad"] = ("FAILED", "broken", None)
        bad, ok, later = self.children("bad", "ok", "later")
        ended = self.this.wait_for(bad, ok, later, return_when=flow_api.ReturnWhen.FIRST_SUCCEEDED)
        self.assertEqual([c.get("id") for c in ended], [bad.get("id"), ok.get("id")])
        bad1, bad2 = self.children("bad", "bad")
        with self.assertRaises(flow_api.DependencyFailedError) as caught:
            self.this.wait_for(bad1, bad2, return_when=flow_api.ReturnWhen.FIRST_SUCCEEDED)
        self.assertEqual(len(caught.exception.executions), 2)

    def test_wait_for_timeout_and_bad_arguments(self):
        self.platform.outcomes["slow"] = NEVER
        (slow,) = self.children("slow")
        with self.assertRaises(flow_api.DependencyTimeoutError):
            self.this.wait_for(slow, timeout=0.1)
        with self.assertRaises(flow_api.DependencyTimeoutError):
            slow.wait(return_when="ALL_ENDED", timeout=0.1)
        with self.assertRaisesRegex(flow_api.FlowApiError, "ALL_ENDED"):
            self.this.wait_for(slow, return_when="SOME_ENDED")
        with self.assertRaisesRegex(flow_api.FlowApiError, "Executions"):
            self.this.wait_for("not-an-execution")
        with self.assertRaisesRegex(flow_api.FlowApiError, "child executions"):
            self.this.wait_for(self.this)
        self.assertEqual(self.this.wait_for(), [])

    def test_end_success_error_and_cancel_are_lifecycle_signals(self):
        for call, cls, status in (
            (lambda: self.this.success("ok"), flow_api.ExecutionSuccess, "ENDED_SUCCESS"),
            (lambda: self.this.error("bad"), flow_api.ExecutionError, "ENDED_ERROR"),
            (lambda: self.this.end("ENDED_CANCELLED"), flow_api.ExecutionCancel, "ENDED_CANCELLED"),
            (lambda: self.this.end("error", "why"), flow_api.ExecutionError, "ENDED_ERROR"),
            (self.this.cancel, flow_api.ExecutionCancel, "ENDED_CANCELLED"),
        ):
            with self.assertRaises(cls) as caught:
                call()
            self.assertEqual(caught.exception.status, status)
        with self.assertRaisesRegex(flow_api.FlowApiError, "'success', 'error' or 'cancelled'"):
            self.this.end("done")

    def test_execution_listing_filters_with_the_platforms_status_names(self):
        self.platform.outcomes["bad"] = ("FAILED", "broken", None)
        self.this.wait_for(self.children("ok", "bad", "ok"), return_when="ALL_ENDED")
        failed = list(self.system.executions(filter={"field": "status", "op": "eq", "value": "ENDED_ERROR"}))
        self.assertEqual([e.get("flow_name") for e in failed], ["bad"])
        either = {"field": "status", "op": "in", "value": ["FAILED", "ENDED_SUCCESS"]}
        self.assertEqual(len(list(self.system.executions(filter=either))), 3)
        self.assertEqual(len(self.this.children()), 3)
        self.assertEqual(
            self.platform.called("execution.list")[-1],
            {"parent_execution_id": "e1", "sort": "created_at", "limit": 1000, "offset": 0},
        )

    def test_children_pages_past_one_thousand(self):
        from flow_api import execution

        for i in range(2500):
            self.platform.executions[f"c{i}"] = {"id": f"c{i}", "parent_execution_id": "e1", "status": "SUCCEEDED"}
        children = self.this.children()
        self.assertEqual([c.get("id") for c in children], [f"c{i}" for i in range(2500)])
        offsets = [p["offset"] for p in self.platform.called("execution.list")]
        self.assertEqual(offsets, [0, execution.PAGE_SIZE, 2 * execution.PAGE_SIZE])

    def test_messages(self):
        answered = self.this.message("Approve?", request="Your name?")
        self.assertEqual(answered.get("response"), {"approved": True})
        body = self.platform.called("message.create")[0]["body"]
        self.assertEqual(body["string"]["label"], "Your name?")
        self.platform.responses["m2"] = None
        with self.assertRaises(flow_api.MessageResponseTimeoutError):
            self.this.message("Anyone?", timeout=0.1)


if __name__ == "__main__":
    unittest.main()
