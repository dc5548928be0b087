"""pool.Baseline: what a pooled worker puts back between two executions, and when it retires.

Each case runs in a fresh interpreter (restoring touches process-wide state: cwd, environment,
signal handlers), which prints what it found as JSON.
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(body, flows_dir):
    script = textwrap.dedent(
        """
        import json, os, signal, sys, threading, time
        sys.path.insert(0, {python_dir!r})
        from flows_worker import pool
        flows_dir = {flows_dir!r}
        job = {{"flows_dir": flows_dir, "kind": "flow", "limits": None}}
        baseline = pool.Baseline()
        baseline.before(job)
        out = {{}}
        """
    ).format(python_dir=PYTHON_DIR, flows_dir=flows_dir) + textwrap.dedent(body)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


class BaselineTest(unittest.TestCase):
    def setUp(self):
        self.flows_dir = tempfile.mkdtemp(prefix="flows-pool-")
        with open(os.path.join(self.flows_dir, "helper_mod.py"), "w") as f:
            f.write("value = 1\n")

    def test_restores_what_a_flow_changed(self):
        out = _run(
            """
            cwd, path = os.getcwd(), list(sys.path)
            sys.path.insert(0, flows_dir)
            import helper_mod
            os.chdir("/")
            os.environ["FLOWS_POOL_TEST"] = "1"
            sys.path.append("/nowhere")
            signal.signal(signal.SIGTERM, lambda *a: None)
            signal.setitimer(signal.ITIMER_REAL, 100)
            sys.setrecursionlimit(50000)
            import warnings
            warnings.simplefilter("ignore")
            why = baseline.restore(job)
            out = {
                "why": why,
                "cwd": os.getcwd() == cwd,
                "env": os.environ.get("FLOWS_POOL_TEST"),
                "path": sys.path == path,
                "helper": "helper_mod" in sys.modules,
                "sigterm": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                "timer": signal.getitimer(signal.ITIMER_REAL)[0],
                "recursion": sys.getrecursionlimit() == baseline.recursion,
                "warnings": warnings.filters[0][0] != "ignore" or len(warnings.filters) == len(baseline.warnings),
            }
            print(json.dumps(out))
            """,
            self.flows_dir,
        )
        self.assertEqual(
            out,
            {
                "why": None,
                "cwd": True,
                "env": None,
                "path": True,
                "helper": False,
                "sigterm": True,
                "timer": 0.0,
                "recursion": True,
                "warnings": True,
            },
        )

    def test_a_thread_left_running_retires(self):
        out = _run(
            """
            stop = threading.Event()
            threading.Thread(target=stop.wait).start()
            why = baseline.restore(job)
            stop.set()
            print(json.dumps({"why": why}))
            """,
            self.flows_dir,
        )
        self.assertEqual(out["why"], "its flow left 1 thread(s) running")

    def test_a_thread_that_ended_does_not_retire(self):
        out = _run(
            """
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
            print(json.dumps({"why": baseline.restore(job)}))
            """,
            self.flows_dir,
        )
        self.assertIsNone(out["why"])

    def test_leaked_descriptors_retire(self):
        out = _run(
            """
            fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(64)]
            print(json.dumps({"why": baseline.restore(job)}))
            """,
            self.flows_dir,
        )
        self.assertEqual(out["why"], "its flow left file descriptors open")


if __name__ == "__main__":
    unittest.main()
