"""SHELL connector: run one command.

Parameters: ``command`` (a string, run by the shell, or a list of arguments, run directly),
``cwd``, ``env`` (added to the runner's environment), ``timeout`` in seconds, ``input`` (text
for stdin), ``check`` (default True: a nonzero exit status fails the execution).
Output: ``{returncode, stdout, stderr}``.
"""

import os
import subprocess

from .base import ConnectorError, require


def run(params):
    command = require(params, "command", (str, list), "SHELL")
    env = None
    if params.get("env"):
        env = {**os.environ, **{str(k): str(v) for k, v in params["env"].items()}}
    timeout = params.get("timeout")
    try:
        done = subprocess.run(
            command if isinstance(command, str) else [str(a) for a in command],
            shell=isinstance(command, str),
            cwd=params.get("cwd") or None,
            env=env,
            input=params.get("input"),
            stdin=None if params.get("input") is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=float(timeout) if timeout else None,
        )
    except subprocess.TimeoutExpired as err:
        output = {"returncode": None, "stdout": _text(err.stdout), "stderr": _text(err.stderr)}
        raise ConnectorError(f"SHELL: command timed out after {timeout} s", output) from None
    except OSError as err:
        raise ConnectorError(f"SHELL: cannot run the command: {err}") from None
    output = {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    if done.returncode != 0 and params.get("check", True):
        last_line = (done.stderr.strip().splitlines() or [""])[-1]
        message = f"SHELL: command exited with status {done.returncode}"
        raise ConnectorError(f"{message}: {last_line}" if last_line else message, output)
    return output


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value or ""
