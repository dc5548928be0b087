"""The public surface of flow_api: the editor catalogue and type stubs are written from it."""

import inspect
import unittest

import flow_api

SURFACE = {
    "Execution": """cancel children connect error flow get get_dict load log parent pause run run_async save
        set_output sleep sleep_until success task top wait wait_for webhook_html_response
        webhook_json_response webhook_response""",
    "System": "execution file flow get_own_user message setting",
    "Setting": "delete exists get save",
    "File": "delete exists get_text save_text",
    "Flow": "exists get",
    "Message": "get wait",
    "User": "get",
}


class ApiSurfaceTest(unittest.TestCase):
    def test_public_methods_are_exactly_the_catalogue(self):
        for name, methods in SURFACE.items():
            cls = getattr(flow_api, name)
            public = {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}
            self.assertEqual(public, set(methods.split()), name)

    def test_every_public_class_and_method_has_a_docstring(self):
        for name in SURFACE:
            cls = getattr(flow_api, name)
            self.assertTrue(inspect.getdoc(cls), name)
            for method in SURFACE[name].split():
                self.assertTrue(inspect.getdoc(getattr(cls, method)), f"{name}.{method}")

    def test_exceptions_and_statuses(self):
        self.assertTrue(issubclass(flow_api.DependencyFailedError, flow_api.FlowApiError))
        self.assertIsNone(flow_api.DependencyFailedError("x").execution)
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

    def test_outside_a_worker_calls_fail_clearly(self):
        with self.assertRaisesRegex(flow_api.FlowApiError, "not connected"):
            flow_api.System().setting("x").get()

    def test_end_of_execution_is_not_an_exception(self):
        this = flow_api.Execution("e1", _record={"id": "e1"}, _is_this=True)
        with self.assertRaises(BaseException) as caught:
            this.success("done")
        self.assertNotIsInstance(caught.exception, Exception)


if __name__ == "__main__":
    unittest.main()
