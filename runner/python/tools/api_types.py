"""Annotation strings of flow_api, rewritten into one plain form both outputs can use.

flow_api uses ``from __future__ import annotations``, so every annotation is source text such as
``Optional[Union[str, int]]``, ``'Execution'`` or ``Wait`` (a module-level alias). The editor and
the stubs want ``str | int | None``, ``Execution`` and the alias spelled out, so this module
parses the text (``ast``) and prints it back: quotes dropped, Optional/Union as ``|``, aliases of
the defining module inlined. Nothing is evaluated.
"""

from __future__ import annotations

import ast
import inspect
import sys
import typing
from types import ModuleType
from typing import Dict, List

_alias_cache: Dict[str, Dict[str, ast.expr]] = {}

#: typing's capitalised generics (kept by code that runs on Python 3.8) print as the builtins.
BUILTIN_GENERICS = {"List": "list", "Dict": "dict", "Tuple": "tuple", "Set": "set", "FrozenSet": "frozenset", "Type": "type"}


def module_aliases(module: ModuleType) -> Dict[str, ast.expr]:
    """Top-level ``Name = <typing construct>`` assignments of a module, by name."""
    cached = _alias_cache.get(module.__name__)
    if cached is not None:
        return cached
    aliases: Dict[str, ast.expr] = {}
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        tree = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            continue
        if _is_alias(getattr(module, name, None)):
            aliases[name] = value
    _alias_cache[module.__name__] = aliases
    # Aliases imported from a sibling module (`from .records import Filter`) are inlined too.
    package = module.__name__.split(".")[0]
    for name, runtime in vars(module).items():
        if name in aliases or not _is_alias(runtime):
            continue
        for other_name, other in list(sys.modules.items()):
            if other is not module and other_name.split(".")[0] == package and getattr(other, name, None) is runtime:
                found = module_aliases(other).get(name)
                if found is not None:
                    aliases[name] = found
                    break
    return aliases


def _is_alias(runtime: object) -> bool:
    """Type aliases (typing constructs) are inlined; classes, constants and TypeVars are not."""
    return type(runtime).__module__ == "typing" and not isinstance(runtime, typing.TypeVar)


def normalize(annotation: object, module: ModuleType) -> str:
    """``Optional['Execution']`` -> ``Execution | None``; empty for a missing annotation."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return ""
    if not isinstance(annotation, str):  # a real object (no __future__ import): use its name
        return getattr(annotation, "__name__", repr(annotation))
    return _print(ast.parse(annotation, mode="eval").body, module_aliases(module))


def _union(parts: List[str]) -> str:
    flat: List[str] = []
    for part in parts:
        for piece in _split_top(part):
            if piece not in flat:
                flat.append(piece)
    if "None" in flat:  # None reads best last: `str | None`
        flat.remove("None")
        flat.append("None")
    return " | ".join(flat)


def _split_top(text: str) -> List[str]:
    """Splits ``a | b[c | d]`` at the top-level bars only."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def _print(node: ast.expr, aliases: Dict[str, ast.expr]) -> str:
    def p(n: ast.expr) -> str:
        return _print(n, aliases)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):  # a forward reference: 'Execution'
            return p(ast.parse(node.value, mode="eval").body)
        return "..." if node.value is Ellipsis else repr(node.value)
    if isinstance(node, ast.Name):
        if node.id in aliases:
            return p(aliases[node.id])
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{p(node.value)}.{node.attr}"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([p(node.left), p(node.right)])
    if isinstance(node, (ast.Tuple, ast.List)):
        inner = ", ".join(p(e) for e in node.elts)
        return f"[{inner}]" if isinstance(node, ast.List) else inner
    if isinstance(node, ast.Subscript):
        head = p(node.value)
        index = node.slice
        if sys.version_info < (3, 9) and isinstance(index, ast.Index):  # pragma: no cover
            index = index.value  # type: ignore[attr-defined]
        args = list(index.elts) if isinstance(index, ast.Tuple) else [index]
        if head in ("Optional", "typing.Optional"):
            return _union([p(args[0]), "None"])
        if head in ("Union", "typing.Union"):
            return _union([p(a) for a in args])
        head = BUILTIN_GENERICS.get(head.replace("typing.", ""), head)
        return f"{head}[{', '.join(p(a) for a in args)}]"
    return ast.unparse(node) if hasattr(ast, "unparse") else "Any"


def strip_wrapper(type_text: str, wrapper: str) -> str:
    """``ClassVar[X]`` -> ``X`` (the editor does not need to know it is a class variable)."""
    prefix = wrapper + "["
    if type_text.startswith(prefix) and type_text.endswith("]"):
        return type_text[len(prefix) : -1]
    return type_text
