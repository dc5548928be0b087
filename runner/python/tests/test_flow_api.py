"""flow_api calls from real forked workers, answered by an in-memory fake of the runner."""

import os
import unittest

from tests.fake_runner import FakeRunner, RunnerTestCase


class FakePlatform:
    """Answers worker calls from dicts: children end as ``outcomes[flow_name]`` says."""

    def __init__(self):
        self.records = {}
        self.settings = {}
        self.calls = []
        self.outcomes = {}  # flow name -> (status, message, output_value)

    def __call__(self, run, method, params):
        self.calls.append((method, params))
        handler = getattr(self, method.replace(".", "_"))
        return handler(run, params)

    def execution_create(self, run, params):
        child_id = f"{run.execution_id}.{len(self.records) + 1}"
        record = {
            "id": child_id,
            "type": params["type"],
            "flow_name": params.get("flow_name"),
            "connector_name": params.get("connector_name"),
            "connector_type": params.get("connector_type"),
            "input_value": params.get("input_value"),
            "output_value": None,
            "message": None,
            "status": "QUEUED" if params["start"] else "CREATED",
            "parent_execution_id": run.execution_id,
            "top_execution_id": run.execution_id,
        }
        self.records[child_id] = record
        return dict(record)

    def execution_start(self, run, params):
        self.records[params["id"]]["status"] = "QUEUED"
        return dict(self.records[params["id"]])

    def execution_wait(self, run, params):
        for child_id in params["ids"]:
            record = self.records[child_id]
            name = record["flow_name"] or record["connector_type"]
            status, message, output = self.outcomes.get(name, ("SUCCEEDED", None, {"echo": record["input_value"]}))
            record.update(status=status, message=message, output_value=output)
        return {"records": [dict(self.records[i]) for i in params["ids"]]}

    def execution_get(self, run, params):
        if params["id"] not in self.records:
            raise KeyError(f"no execution {params['id']}")
        return dict(self.records[params["id"]])

    def execution_list(self, run, params):
        parent = params["parent_execution_id"]
        return {"records": [r for r in self.records.values() if r["parent_execution_id"] == parent]}

    def execution_update(self, run, params):
        record = self.records.setdefault(params["id"], {"id": params["id"]})
        record.update(params["fields"])
        return dict(record)

    def execution_cancel(self, run, params):
        self.records[params["id"]]["status"] = "STOPPED"
        return dict(self.records[params["id"]])

    def execution_webhook_response(self, run, params):
        return None

    def setting_get(self, run, params):
        if params["name"] not in self.settings:
            raise KeyError(f"setting '{params['name']}' does not exist")
        return self.settings[params["name"]]

    def setting_save(self, run, params):
        self.settings[params["name"]] = params["value"]

    def setting_exists(self, run, params):
        return params["name"] in self.settings

    def setting_delete(self, run, params):
        return self.settings.pop(params["name"], None) is not None

    def message_create(self, run, params):
        return {"id": "m1"}

    def message_wait(self, run, params):
        return {"response": {"approved": True}}


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
                return [child.get('status'), child.get('output_value'), child.get('parent_execution_id')]
            """
        )
        create = dict(self.platform.calls)["execution.create"]
        self.assertEqual(create["type"], "FLOW")
        self.assertEqual(create["flow_name"], "my-child-flow")
        self.assertEqual(create["input_value"], {"a": 1, "custom_parameter": "value"})
        self.assertEqual((create["priority"], create["start"]), (5, True))
        self.assertEqual(output[0], "SUCCEEDED")
        self.assertEqual(output[1], {"echo": {"a": 1, "custom_parameter": "value"}})

    def test_failed_child_raises_dependency_failed_in_the_parent(self):
        self.platform.outcomes["broken"] = ("FAILED", "ZeroDivisionError: division by zero", None)
        run = self.runner.run_flow("def handler(system, this):\n    this.flow('broken')\n")
        self.assertEqual(run.end["status"], "FAILED")
        self.assertEqual(run.end["error"]["type"], "DependencyFailedError")
        self.assertEqual(run.end["error"]["line"], 2)
        for part in ("flow 'broken'", "ended FAILED", "division by zero", run.execution_id + "."):
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
                    return exc.execution.get('status')
            """
        )
        self.assertEqual(output, "STOPPED")

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
        methods = [m for m, _ in self.platform.calls]
        self.assertEqual(methods.count("execution.wait"), 1)
        waited = dict(self.platform.calls)["execution.wait"]["ids"]
        self.assertEqual([i.rsplit(".", 1)[1] for i in waited], ["1", "2"])

    def test_connect_and_task_create_connection_children(self):
        output = self.run_flow(
            """
            def handler(system, this):
                a = this.connect('my-database', fetchval='SELECT 1+1')
                b = this.connect(connector_type='REST', url='http://x', name='call x')
                c = this.task('SHELL', command='true')
                return [a.get('type'), b.get('output_value'), c.get('status')]
            """
        )
        creates = [p for m, p in self.platform.calls if m == "execution.create"]
        self.assertEqual(creates[0]["connector_name"], "my-database")
        self.assertEqual(creates[0]["input_value"], {"fetchval": "SELECT 1+1"})
        self.assertEqual((creates[1]["connector_type"], creates[1]["name"]), ("REST", "call x"))
        self.assertEqual(creates[1]["input_value"], {"url": "http://x"})
        self.assertEqual(creates[2]["connector_type"], "SHELL")
        self.assertEqual(output, ["CONNECTION", {"echo": {"url": "http://x"}}, "SUCCEEDED"])

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

    def test_error_reply_becomes_flow_api_error(self):
        output = self.run_flow(
            """
            import flow_api

            def handler(system, this):
                try:
                    system.setting('missing').get()
                except flow_api.FlowApiError as exc:
                    return str(exc)
            """
        )
        self.assertIn("does not exist", output)

    def test_settings(self):
        output = self.run_flow(
            """
            def handler(system, this):
                s = system.setting('token')
                before = s.exists()
                s.save({'k': 'v'})
                return [before, s.exists(), s.get(), s.delete(), s.exists()]
            """
        )
        self.assertEqual(output, [False, True, {"k": "v"}, True, False])

    def test_files_stay_inside_the_files_folder(self):
        output = self.run_flow(
            """
            import flow_api

            def handler(system, this):
                f = system.file('reports/today.txt')
                f.save_text('hello')
                escaped = []
                for name in ('../outside.txt', '/etc/passwd', 'a/../../x'):
                    try:
                        system.file(name).save_text('x')
                    except flow_api.FlowApiError:
                        escaped.append(name)
                return [f.exists(), f.get_text(), f.delete(), f.exists(), escaped]
            """
        )
        self.assertEqual(output, [True, "hello", True, False, ["../outside.txt", "/etc/passwd", "a/../../x"]])
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
        self.assertEqual(params["body"], '{"ok":true}')
        self.assertEqual((params["content_type"], params["encoding"]), ("application/json", "text"))

    def test_calls_from_several_threads(self):
        output = self.run_flow(
            """
            import threading

            def handler(system, this):
                results = {}
                def work(i):
                    system.setting(f's{i}').save(i)
                    results[i] = system.setting(f's{i}').get()
                threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
                for t in threads: t.start()
                for t in threads: t.join()
                return sorted(results.values())
            """
        )
        self.assertEqual(output, list(range(8)))


if __name__ == "__main__":
    unittest.main()
