"""The Python side of the Flows runner: the warm fork server and the per-execution worker.

See docs/worker-protocol.md for the contract with the Node runner.
"""
