"""Real forked workers through forkserver.py: loading, running, capture, ending, killing."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from tests.fake_runner import WORKER, FakePlatform, FakeRunner, RunnerTestCase


class WorkerTest(RunnerTestCase):
    def setUp(self):
        self.runner.on_call = FakeRunner._no_calls

    def test_ready_event_names_the_python_version(self):
        ready = self.runner.ready
        self.assertEqual(ready["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(ready["pid"], self.runner.forkserver.pid)

    def test_flow_that_logs_and_succeeds(self):
        run = self.runner.run_flow(
            """
            import flow_api

            def handler(system: flow_api.System, this: flow_api.Execution):
                this.log('hello', {'a': 1}, 2)
                this.log('careful', level='warning')
                this.log(status=200, body={'ok': True})
                return {'answer': 42}
            """
        )
        self.assertEqual(run.messages[0], {"type": "started"})
        self.assertEqual(run.logs("log"), ['hello {"a": 1} 2', "[WARNING] careful", "status: 200", 'body: {"ok": true}'])
        self.assertEqual(run.end["status"], "SUCCEEDED")
        self.assertEqual(run.end["output_value"], {"answer": 42})
        self.assertEqual(run.exited["code"], 0)
        self.assertIsNone(run.exited["signal"])
        self.assertEqual(run.exited["pid"], run.pid)

    def test_prints_and_subprocess_output_are_captured(self):
        run = self.runner.run_flow(
            """
            import os, subprocess, sys

            def handler(system, this):
                print('from print')
                print('to stderr', file=sys.stderr)
                print('no newline at the end', end='')
                os.write(1, b'raw fd 1\\n')
                subprocess.run(['sh', '-c', 'echo from a subprocess; echo its stderr >&2'])
            """
        )
        self.assertEqual(run.end["status"], "SUCCEEDED")
        self.assertNotIn("output_value", run.end)
        stdout = run.logs("stdout")
        for line in ("from print", "no newline at the end", "raw fd 1", "from a subprocess"):
            self.assertIn(line, stdout)
        self.assertEqual(sorted(run.logs("stderr")), ["its stderr", "to stderr"])

    def test_large_raw_fd_output_without_a_drain_thread_does_not_block(self):
        run = self.runner.run_flow(
            """
            import os

            def handler(system, this):
                for i in range(4000):
                    os.write(1, b'line %05d ' % i + b'x' * 50 + b'\\n')
                os.system('echo after the raw lines')
            """
        )
        stdout = run.logs("stdout")
        self.assertEqual(len(stdout), 4001)
        self.assertTrue(stdout[0].startswith("line 00000"))
        self.assertEqual(stdout[-1], "after the raw lines")

    def test_background_process_does_not_hold_the_end_back(self):
        started = time.monotonic()
        run = self.runner.run_flow(
            "import subprocess\n\ndef handler(system, this):\n    subprocess.Popen(['sleep', '5'])\n"
        )
        self.assertEqual(run.end["status"], "SUCCEEDED")
        self.assertLess(time.monotonic() - started, 3)

    def test_syntax_error_is_invalid_with_its_line(self):
        run = self.runner.run_flow("def handler(system, this):\n    x = 1\n    return x +\n")
        self.assertEqual(run.end["status"], "INVALID")
        self.assertEqual(run.end["error"]["type"], "SyntaxError")
        self.assertEqual(run.end["error"]["line"], 3)
        self.assertTrue(run.end["error"]["filename"].endswith("test.py"))
        self.assertEqual(run.of_type("started"), [])

    def test_missing_handler_is_invalid(self):
        run = self.runner.run_flow("def main(system, this):\n    pass\n")
        self.assertEqual(run.end["status"], "INVALID")
        self.assertIn("no handler", run.end["message"])
        self.assertEqual(run.end["error"]["line"], 1)

    def test_handler_with_wrong_arity_is_invalid_at_its_def(self):
        run = self.runner.run_flow("import os\n\ndef handler(system):\n    pass\n")
        self.assertEqual(run.end["status"], "INVALID")
        self.assertEqual(run.end["error"]["line"], 3)

    def test_exception_fails_with_trimmed_traceback_and_line(self):
        run = self.runner.run_flow(
            """
            def helper(value):
                return value / 0

            def handler(system, this):
                this.log('about to fail')
                return helper(1)
            """
        )
        error = run.end["error"]
        self.assertEqual(run.end["status"], "FAILED")
        self.assertEqual(run.end["message"], "ZeroDivisionError: division by zero")
        self.assertEqual((error["type"], error["message"], error["line"]), ("ZeroDivisionError", "division by zero", 3))
        self.assertIn("in helper", error["traceback"])
        self.assertNotIn("flows_worker", error["traceback"])

    def test_exception_in_module_code_fails(self):
        run = self.runner.run_flow("import no_such_module_here\n\ndef handler(system, this):\n    pass\n")
        self.assertEqual(run.end["status"], "FAILED")
        self.assertEqual(run.end["error"]["type"], "ModuleNotFoundError")
        self.assertEqual(run.end["error"]["line"], 1)

    def test_inputs_as_third_parameter(self):
        run = self.runner.run_flow(
            "def handler(system, this, inputs):\n    return {'got': inputs, 'same': this.get('input_value')}\n",
            inputs={"order_id": 7},
        )
        self.assertEqual(run.end["output_value"], {"got": {"order_id": 7}, "same": {"order_id": 7}})
        run = self.runner.run_flow("def handler(system, this, inputs):\n    return inputs\n")
        self.assertEqual(run.end["output_value"], {})

    def test_success_cannot_be_swallowed(self):
        run = self.runner.run_flow(
            """
            def handler(system, this):
                try:
                    this.success('done early')
                except Exception:
                    this.log('swallowed')
                this.log('not reached')
            """
        )
        self.assertEqual((run.end["status"], run.end["message"]), ("SUCCEEDED", "done early"))
        self.assertEqual(run.logs("log"), [])

    def test_return_error_fails_with_message(self):
        run = self.runner.run_flow("def handler(system, this):\n    return this.error('bad input')\n")
        self.assertEqual((run.end["status"], run.end["message"]), ("FAILED", "bad input"))
        self.assertIsNone(run.end["error"])

    def test_end_with_the_platforms_status_names(self):
        for status, expected in (("ENDED_ERROR", "FAILED"), ("cancelled", "STOPPED"), ("ENDED_SUCCESS", "SUCCEEDED")):
            run = self.runner.run_flow(f"def handler(system, this):\n    this.end('{status}', 'why')\n")
            self.assertEqual((run.end["status"], run.end["message"]), (expected, "why"), status)

    def test_cancel_on_this_stops(self):
        run = self.runner.run_flow("def handler(system, this):\n    this.cancel()\n")
        self.assertEqual(run.end["status"], "STOPPED")

    def test_unserialisable_return_value_is_dropped_with_a_warning(self):
        run = self.runner.run_flow("def handler(system, this):\n    return object()\n")
        self.assertEqual(run.end["status"], "SUCCEEDED")
        self.assertNotIn("output_value", run.end)
        self.assertIn("not saved", run.logs("stderr")[0])

    def test_script_kind(self):
        run = self.runner.finish(
            self.runner.spawn(self.runner.job(kind="script", script="def handler(system, this):\n    return 1 / 0\n"))
        )
        self.assertEqual(run.end["status"], "FAILED")
        self.assertEqual(run.end["error"]["line"], 2)
        self.assertIn("return 1 / 0", run.end["error"]["traceback"])

    def test_sigkill_is_reported_as_signal_9(self):
        self.runner.write_flow("sleeper", "import time\n\ndef handler(system, this):\n    time.sleep(60)\n")
        run = self.runner.spawn(self.runner.job(flow_name="sleeper"))
        self.runner.wait_for(lambda: run.started_at is not None and run.pid is not None)
        os.kill(run.pid, signal.SIGKILL)
        self.runner.wait_for(lambda: run.exited is not None)
        self.assertEqual((run.exited["code"], run.exited["signal"]), (None, 9))
        self.assertIsNone(run.end)

    def test_worker_exits_when_the_runner_goes_away(self):
        # Short sleeps: a SIGIO that lands between the last bytecode and the sleep syscall is
        # handled only when that sleep ends (CPython checks signals between bytecodes), so a
        # single 60 s sleep made this test time out about one run in ten. The worker still exits
        # when the runner goes away; a flow inside one long sleep may finish that sleep first.
        self.runner.write_flow(
            "orphan", "import time\n\ndef handler(system, this):\n    for _ in range(600):\n        time.sleep(0.1)\n"
        )
        run = self.runner.spawn(self.runner.job(flow_name="orphan"))
        self.runner.wait_for(lambda: run.started_at is not None)
        run.sock.shutdown(socket.SHUT_RDWR)
        self.runner.wait_for(lambda: run.exited is not None, timeout=5)
        self.assertEqual((run.exited["code"], run.exited["signal"]), (3, None))

    def test_pause_waits_for_resume(self):
        self.runner.write_flow("pauser", "def handler(system, this):\n    this.pause()\n    return 'resumed'\n")
        run = self.runner.spawn(self.runner.job(flow_name="pauser"))
        self.runner.wait_for(lambda: run.of_type("status"))
        self.assertEqual(run.of_type("status")[0]["status"], "PAUSED")
        time.sleep(0.05)
        self.assertIsNone(run.end)
        self.runner.send(run, {"type": "resume"})
        self.runner.finish(run)
        self.assertEqual([m["status"] for m in run.of_type("status")], ["PAUSED", "RUNNING"])
        self.assertEqual(run.end["output_value"], "resumed")

    def test_sleep_reports_blocked_then_running(self):
        run = self.runner.run_flow("def handler(system, this):\n    this.sleep(0.01)\n")
        self.assertEqual([m["status"] for m in run.of_type("status")], ["BLOCKED", "RUNNING"])

    def test_bad_spawn_command_is_an_error_event(self):
        count = len(self.runner.events)
        self.runner.forkserver.stdin.write(b'{"cmd":"spawn","execution_id":"x"}\nnot json\n')
        self.runner.forkserver.stdin.flush()

        def two_errors():
            errors = [e for e in self.runner.events[count:] if e["event"] == "error"]
            return errors if len(errors) == 2 else None

        errors = self.runner.wait_for(two_errors)
        self.assertIn("job", errors[0]["message"])
        self.assertIn("not a JSON command", errors[1]["message"])

    def test_no_fork_worker_script_behaves_the_same(self):
        self.runner.write_flow("plain", "def handler(system, this):\n    print('hi')\n    return 'ok'\n")
        job = self.runner.job(flow_name="plain")
        run = self.runner.expect(job)
        proc = subprocess.run([sys.executable, "-u", WORKER, json.dumps(job)], env=self.runner.env, timeout=20)
        self.assertEqual(proc.returncode, 0)
        self.runner.wait_for(lambda: run.end)
        self.assertEqual(run.logs("stdout"), ["hi"])
        self.assertEqual(run.end["output_value"], "ok")


class TcpAddressTest(unittest.TestCase):
    def test_worker_connects_over_tcp_loopback(self):
        runner = FakeRunner(tcp=True)
        try:
            platform = FakePlatform()
            platform.add_record("setting", "s", value="over tcp")
            runner.on_call = platform
            run = runner.run_flow("def handler(system, this):\n    return system.setting('s').get('value')\n")
            self.assertEqual(run.end["output_value"], "over tcp")
        finally:
            runner.close()


class StartLatencyTest(unittest.TestCase):
    """Prints spawn→started latency; asserts nothing about time (machines differ)."""

    def test_spawn_to_started_latency_over_200_forks(self):
        runner = FakeRunner()
        try:
            runner.write_flow("trivial", "def handler(system, this):\n    return None\n")
            for _ in range(10):  # warm the compile cache and the fake runner
                runner.finish(runner.spawn(runner.job(flow_name="trivial")))
            latencies = []
            for _ in range(200):
                run = runner.finish(runner.spawn(runner.job(flow_name="trivial")))
                latencies.append((run.started_at - run.spawned_at) * 1000)
                self.assertEqual(run.end["status"], "SUCCEEDED")
            latencies.sort()
            started = time.perf_counter()
            runs = [runner.spawn(runner.job(flow_name="trivial")) for _ in range(300)]
            for run in runs:
                runner.finish(run, 30)
            rate = len(runs) / (time.perf_counter() - started)
            print(
                f"\nspawn->started over 200 sequential forks: p50 {latencies[100]:.2f} ms, "
                f"p90 {latencies[180]:.2f} ms, max {latencies[-1]:.2f} ms; "
                f"300 queued trivial executions: {rate:.0f}/s (fake runner in the same process)"
            )
        finally:
            runner.close()


if __name__ == "__main__":
    unittest.main()
