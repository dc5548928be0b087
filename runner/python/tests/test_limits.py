"""Bounded JSON on the Python side (protocol/limits.ts): nothing the runner sends, however deep or
broken, ends the fork server or leaves an execution without an answer."""

import os
import subprocess
import sys
import unittest

from flows_worker import channel, wire
from tests.fake_runner import WORKER, FakeRunner, RunnerTestCase


def deep_text(levels):
    return '{"a":' * levels + "1" + "}" * levels


def deep_value(levels):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


class WireLimitsTest(unittest.TestCase):
    def test_limits_match_protocol_limits_ts(self):
        source = os.path.join(os.path.dirname(__file__), "..", "..", "..", "protocol", "limits.ts")
        with open(source, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"export const MAX_JSON_DEPTH = {wire.MAX_JSON_DEPTH};", text)
        margin = wire.MAX_WIRE_DEPTH - wire.MAX_JSON_DEPTH
        self.assertIn(f"export const MAX_WIRE_DEPTH = MAX_JSON_DEPTH + {margin};", text)
        self.assertIn(f"export const MAX_OUTPUT_BYTES = {wire.MAX_OUTPUT_BYTES // 1048576} * 1024 * 1024;", text)

    def test_check_depth_is_iterative_and_names_the_spot(self):
        with self.assertRaises(wire.TooDeep) as caught:
            wire.check_depth(deep_value(100_000), 64)
        self.assertEqual(len(caught.exception.path), 64)
        self.assertEqual(str(caught.exception), "0.0.0.0.0.…: nested deeper than 64 levels")
        wire.check_depth(deep_value(64), 64)
        with self.assertRaises(wire.TooDeep) as caught:
            wire.check_depth({"x": [1, {"y": 2}, [[[3]]]]}, 4)
        self.assertEqual(caught.exception.path, ["x", 2, 0, 0])
        cyclic = []
        cyclic.append(cyclic)
        with self.assertRaises(wire.TooDeep):
            wire.check_depth(cyclic, 64)

    def test_loads_turns_every_depth_problem_into_a_value_error(self):
        self.assertEqual(wire.loads('{"a":[1]}'), {"a": [1]})
        for levels in (100, 5000, 100_000):  # past the limit; past the recursion limit
            with self.assertRaises(ValueError):
                wire.loads(deep_text(levels))
        with self.assertRaises(ValueError):
            wire.loads("not json")

    def test_a_reply_that_cannot_be_read_answers_its_call_with_an_error(self):
        line = b'{"type":"reply","id":7,"result":' + b"[" * 5000 + b"]" * 5000 + b"}"
        reply = channel._loads(line)
        self.assertEqual(reply["type"], "reply")
        self.assertEqual(reply["id"], 7)
        self.assertIn("nested deeper than", reply["error"]["message"])
        self.assertEqual(channel._loads(b'{"type":"resume",' + b"[" * 5000), {})
        self.assertEqual(channel._loads(b'{"type":"resume"}'), {"type": "resume"})


class ForkServerLimitsTest(RunnerTestCase):
    def _spawn_line(self, line):
        self.runner.forkserver.stdin.write(line + b"\n")
        self.runner.forkserver.stdin.flush()

    def _error_for(self, wanted):
        return self.runner.wait_for(
            lambda: next(
                (e for e in self.runner.events if e["event"] == "error" and e.get("execution_id") == wanted),
                None,
            )
        )

    def test_deep_or_broken_commands_fail_their_execution_and_the_fork_server_goes_on(self):
        for n, levels in enumerate((100, 3000, 10_000)):
            execution_id = f"deep-{n}"
            job = '{"execution_id":"%s","record":{"input_value":%s}}' % (execution_id, deep_text(levels))
            command = '{"cmd":"spawn","execution_id":"%s","job":%s}' % (execution_id, job)
            self._spawn_line(command.encode())
            error = self._error_for(execution_id)
            self.assertIn("nested deeper than", error["message"])
        self._spawn_line(b'{"cmd":"spawn","execution_id":"broken-1","job":{')
        self.assertIn("cannot read the spawn command", self._error_for("broken-1")["message"])
        self._spawn_line(b"[1, 2]")  # JSON, not an object, no execution: reported, nothing more
        self.assertIsNone(self.runner.forkserver.poll())
        # ... and still forks.
        run = self.runner.run_flow("def handler(system, this, inputs):\n    return inputs\n", inputs={"n": 1})
        self.assertEqual(run.end["status"], "SUCCEEDED")
        self.assertEqual(run.end["output_value"], {"n": 1})

    def test_output_nested_too_deep_fails_the_execution_clearly(self):
        run = self.runner.run_flow(
            "def handler(system, this):\n"
            "    value = 1\n"
            "    for _ in range(5000):\n"
            "        value = [value]\n"
            "    return value\n"
        )
        self.assertEqual(run.end["status"], "FAILED")
        message = "output_value.0.0.0.0.…: nested deeper than 64 levels; the output is not saved"
        self.assertEqual(run.end["message"], message)
        self.assertNotIn("output_value", run.end)
        self.assertEqual(run.exited["code"], 0)

    def test_output_just_within_the_limit_is_saved(self):
        run = self.runner.run_flow(
            "def handler(system, this):\n"
            "    value = 1\n"
            "    for _ in range(64):\n"
            "        value = [value]\n"
            "    return value\n"
        )
        self.assertEqual(run.end["status"], "SUCCEEDED", run.end)
        self.assertEqual(run.end["output_value"], deep_value(64))


class SpawnModeLimitsTest(unittest.TestCase):
    def test_a_job_that_cannot_be_read_fails_its_execution(self):
        runner = FakeRunner()
        try:
            run = runner.expect({"execution_id": "spawned-1"})
            job = '{"execution_id":"spawned-1","record":{"input_value":%s}}' % deep_text(5000)
            argv = [sys.executable, "-u", WORKER, job]
            code = subprocess.call(argv, env=runner.env, stderr=subprocess.DEVNULL)
            self.assertEqual(code, 0)
            runner.wait_for(lambda: run.end is not None)
            self.assertEqual(run.end["status"], "FAILED")
            self.assertIn("the worker cannot read its job", run.end["message"])
            self.assertIn("nested deeper than", run.end["message"])
        finally:
            runner.close()


if __name__ == "__main__":
    unittest.main()
