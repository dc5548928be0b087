"""Slowdown of a CPU-bound flow under the debugger: a breakpoint set but never hit vs no debugger.

Run from runner/python: ``python3 -m tests.debug_speed`` (also run, briefly, by test_debugger).
"""

from tests.fake_runner import FakeRunner

FLOW = """\
import time


def work(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total


def handler(system, this, inputs):
    if inputs.get('never'):
        print('never here')
    best = None
    for _ in range(inputs['repeat']):
        start = time.perf_counter()
        work(inputs['n'])
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best
"""


def measure(runner, n=1_000_000, repeat=5, rounds=3):
    """Best time of each configuration over ``rounds`` interleaved rounds (the host is noisy)."""
    path = runner.write_flow("speed", FLOW)
    inputs = {"n": n, "repeat": repeat}
    results = {}
    configs = {
        "plain": None,
        "breakpoint not hit": {"session_id": "s", "breakpoints": {path: [{"line": 13}]},
                               "exception_filters": [], "stop_on_entry": False},
        "raised filter (trace)": {"session_id": "s", "breakpoints": {}, "exception_filters": ["raised"],
                                  "stop_on_entry": False},
        "uncaught filter": {"session_id": "s", "breakpoints": {}, "exception_filters": ["uncaught"],
                            "stop_on_entry": False},
    }
    for _ in range(rounds):
        for name, debug in configs.items():
            run = runner.finish(runner.spawn(runner.job(flow_name="speed", inputs=inputs, debug=debug)), 60)
            assert run.end["status"] == "SUCCEEDED", run.end
            took = run.end["output_value"]
            results[name] = min(took, results.get(name, took))
    return results


def main():
    runner = FakeRunner()
    try:
        results = measure(runner)
    finally:
        runner.close()
    plain = results["plain"]
    for name, took in results.items():
        print(f"{name:20s} {took * 1000:8.2f} ms  {took / plain:5.2f}x")


if __name__ == "__main__":
    main()
