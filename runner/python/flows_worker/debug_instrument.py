"""Breakpoint lines and the instrumentation of a flow's code for the debugger (issue 4).

Only used when the Job's ``debug`` is set. The flow's source is parsed, a cheap call
``__flows_bp__(LINE)`` is put before each statement on a breakpoint line (and at the top of the
body of a loop whose header holds one, so it fires on every iteration), and the result is
compiled for this child only: the fork server's cached code object stays unmodified.
"""

import ast
import builtins

HOOK = "__flows_bp__"

# path -> sorted list of lines on which a statement starts (None: the file cannot be parsed)
_code_lines = {}


def _parse(source, filename):
    try:
        return ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return None


def read_source(filename):
    """The bytes of a source file, or None when it cannot be read."""
    try:
        with open(filename, "rb") as f:
            return f.read()
    except OSError:
        return None


def code_lines(filename, source=None):
    """Sorted lines where statements start in ``filename`` (or ``source``); None if unknown."""
    if filename in _code_lines:
        return _code_lines[filename]
    if source is None:
        source = read_source(filename)
        if source is None:
            return None
    tree = _parse(source, filename)
    lines = None
    if tree is not None:
        lines = sorted({node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt)})
    _code_lines[filename] = lines
    return lines


def move_line(lines, line):
    """The first line >= ``line`` that holds code, or None."""
    if not lines:
        return None
    for candidate in lines:  # files are small; bisect is not worth it
        if candidate >= line:
            return candidate
    return None


def _hook_call(line):
    call = ast.Expr(ast.Call(ast.Name(HOOK, ast.Load()), [ast.Constant(line)], []))
    for node in ast.walk(call):
        node.lineno = node.end_lineno = line
        node.col_offset = node.end_col_offset = 0
    return call


class _Instrument(ast.NodeTransformer):
    def __init__(self, lines):
        self.lines = lines

    def _body(self, body):
        out = []
        for stmt in body:
            if stmt.lineno in self.lines:
                out.append(_hook_call(stmt.lineno))
            out.append(stmt)
            if stmt.lineno in self.lines and isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
                stmt.body.insert(0, _hook_call(stmt.lineno))
        return out

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._body(value))
        return node


def compile_instrumented(source, filename, lines):
    """Compile ``source`` with hook calls on ``lines``; None when that is not possible."""
    tree = _parse(source, filename)
    if tree is None:
        return None
    if lines:
        tree = _Instrument(set(lines)).visit(tree)
    try:
        return compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return None


def install_hook(function):
    """Make ``__flows_bp__`` resolvable from any module (a builtin, looked up only at hooks)."""
    setattr(builtins, HOOK, function)
