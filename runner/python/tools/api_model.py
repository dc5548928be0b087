"""Reads the flow_api package by introspection into one plain model (dicts and lists).

Both outputs of gen_api.py are rendered from this model: the editor's JSON and the ``.pyi``
stubs. Everything comes from the package itself: signatures and annotations (as source strings,
see api_types.py), docstrings, ``#:`` comments above constants and class attributes, ``FIELDS``
of the record classes, enum members, ``__all__``. Docs stay as written (reST-ish ``code``);
the JSON writer turns them into markdown.
"""

from __future__ import annotations

import ast
import enum
import inspect
import re
import sys
import textwrap
from types import ModuleType
from typing import Any, Dict, List, Optional

from api_types import normalize, strip_wrapper

KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "normal",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "normal",
    inspect.Parameter.VAR_POSITIONAL: "varargs",
    inspect.Parameter.KEYWORD_ONLY: "keyword",
    inspect.Parameter.VAR_KEYWORD: "kwargs",
}


def comment_docs(obj: Any) -> Dict[str, str]:
    """``#: text`` comments (Sphinx style) directly above ``name = ...`` / ``name: T``, by name."""
    try:
        lines = inspect.getsource(obj).splitlines()
    except (OSError, TypeError):
        return {}
    docs: Dict[str, str] = {}
    pending: List[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"([A-Za-z_]\w*)\s*[:=]", stripped)
        if match and pending:
            docs.setdefault(match.group(1), " ".join(pending))
        pending = []
    return docs


def param_doc(doc: str, name: str) -> str:
    """The sentences of a method's docstring that mention ````name```` (or ````name=...````)."""
    text = " ".join(doc.split())
    mention = re.compile(r"``\*{0,2}" + re.escape(name) + r"(=[^`]*)?``")
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", text)
    return " ".join(s for s in sentences if mention.search(s))


def default_text(value: Any) -> Optional[str]:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


class Reader:
    """Introspects one package: ``exported`` are the public class names (by ``__all__``)."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.exported = {
            name: obj
            for name in package.__all__
            for obj in [getattr(package, name)]
            if inspect.isclass(obj) and obj.__name__ == name
        }

    # ----- classes -------------------------------------------------------------------------

    def public_name(self, cls: type) -> str:
        """The name a class goes by in the model: private flow_api classes count as their base."""
        for c in cls.__mro__:
            if c.__name__ in self.exported and self.exported[c.__name__] is c:
                return c.__name__
            if c.__module__ == "builtins":
                return c.__name__
            if c.__module__ == "enum":
                return f"enum.{c.__name__}"
        return "object"

    def owner(self, cls: type, name: str) -> Optional[type]:
        for c in cls.__mro__:
            if name in c.__dict__:
                return c
        return None

    def from_name(self, cls: type, name: str) -> str:
        """The public class of ``cls``'s MRO that defines ``name`` (private classes merge down)."""
        current = cls.__name__
        for c in cls.__mro__:
            if self.exported.get(c.__name__) is c:
                current = c.__name__
            if name in c.__dict__:
                return current
        return current

    def ours(self, c: Optional[type]) -> bool:
        return c is not None and c.__module__.split(".")[0] == self.package.__name__

    def describe_class(self, cls: type) -> Dict[str, Any]:
        kind = "enum" if issubclass(cls, enum.Enum) else "exception" if issubclass(cls, BaseException) else "class"
        bases = []
        for b in cls.__bases__:
            name = self.public_name(b)
            if name not in bases and name != "object":
                bases.append(name)
        model: Dict[str, Any] = {
            "name": cls.__name__,
            "module": cls.__module__,
            "kind": kind,
            "doc": inspect.getdoc(cls) or "",
            "bases": bases,
            "methods": [],
            "attributes": [],
        }
        init = cls.__dict__.get("__init__") or next(
            (c.__dict__["__init__"] for c in cls.__mro__[1:] if self.ours(c) and "__init__" in c.__dict__), None
        )
        if init is not None and kind != "enum":
            model["init"] = self.describe_method(cls, "__init__", init)
        docs: Dict[str, str] = {}
        for c in reversed(cls.__mro__):
            if self.ours(c):
                docs.update(comment_docs(c))
        for name in sorted(dir(cls)):
            if name.startswith("_"):
                continue
            owner = self.owner(cls, name)
            if not self.ours(owner):
                continue  # members of str, Exception, Enum, object: not part of flow_api
            raw = owner.__dict__[name]
            if isinstance(raw, (staticmethod, classmethod)):
                raw = raw.__func__
            if inspect.isfunction(raw):
                model["methods"].append(self.describe_method(cls, name, raw))
            else:
                model["attributes"].append(self.describe_attribute(cls, owner, name, raw, docs))
        if kind == "enum":
            members = [a for a in model["attributes"] if a["name"] in cls.__members__]
            others = [a for a in model["attributes"] if a["name"] not in cls.__members__]
            model["attributes"] = sorted(members, key=lambda a: list(cls.__members__).index(a["name"])) + others
        model["attributes"].extend(self.instance_attributes(cls, model))
        if hasattr(cls, "FIELDS") and isinstance(cls.FIELDS, dict):
            model["resource"] = getattr(cls, "RESOURCE", None)
            model["fields"] = [{"name": k, "doc": v} for k, v in cls.FIELDS.items()]
        return model

    def describe_attribute(self, cls: type, owner: type, name: str, raw: Any, docs: Dict[str, str]) -> Dict[str, Any]:
        module = sys.modules[owner.__module__]
        annotation = owner.__dict__.get("__annotations__", {}).get(name)
        if isinstance(raw, enum.Enum):
            type_text, value = cls.__name__, repr(raw.value)
        elif annotation is not None:
            type_text, value = normalize(annotation, module), None
        else:
            type_text, value = type(raw).__name__, None
        attribute = {
            "name": name,
            "type": strip_wrapper(strip_wrapper(type_text, "Final"), "ClassVar"),
            "classVar": type_text.startswith("ClassVar[") or annotation is None,
            "doc": docs.get(name, ""),
            "from": self.from_name(cls, name),
        }
        if value is not None:
            attribute["value"] = value
        return attribute

    def instance_attributes(self, cls: type, model: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Public ``self.x = ...`` of ``__init__`` (exceptions carry their data so)."""
        known = {a["name"] for a in model["attributes"]} | {m["name"] for m in model["methods"]}
        out: List[Dict[str, Any]] = []
        for c in cls.__mro__:
            init = c.__dict__.get("__init__")
            if not self.ours(c) or not inspect.isfunction(init):
                continue
            params = {p.name: p.annotation for p in inspect.signature(init).parameters.values()}
            tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Assign):
                    continue
                for target in node.targets:
                    if not (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                        and not target.attr.startswith("_")
                        and target.attr not in known
                    ):
                        continue
                    known.add(target.attr)
                    direct = isinstance(node.value, ast.Name) and node.value.id in params
                    annotation = params.get(node.value.id) if direct else None  # type: ignore[union-attr]
                    type_text = normalize(annotation, sys.modules[c.__module__]) if direct else ""
                    out.append(
                        {
                            "name": target.attr,
                            "type": type_text or "Any",
                            "classVar": False,
                            "doc": "",
                            "from": self.from_name(cls, "__init__"),
                        }
                    )
        return out

    def describe_method(self, cls: type, name: str, fn: Any) -> Dict[str, Any]:
        module = sys.modules[fn.__module__]
        signature = inspect.signature(fn)
        # The function's own docstring: getdoc() would fall back to object.__init__'s text.
        doc = inspect.cleandoc(fn.__doc__) if fn.__doc__ else ""
        params = []
        for i, p in enumerate(signature.parameters.values()):
            if i == 0 and p.name in ("self", "cls"):
                continue
            if p.name.startswith("_"):
                continue  # private plumbing such as _record=: not for flows
            param: Dict[str, Any] = {
                "name": p.name,
                "kind": KINDS[p.kind],
                "type": normalize(p.annotation, module) or "Any",
                "doc": param_doc(doc, p.name),
            }
            default = default_text(p.default)
            if default is not None:
                param["default"] = default
            params.append(param)
        return {
            "name": name,
            "params": params,
            "returns": normalize(signature.return_annotation, module) or "Any",
            "doc": doc,
            "from": self.from_name(cls, name),
        }

    # ----- module members ----------------------------------------------------------------------

    def constant_home(self, name: str, value: Any) -> Optional[ModuleType]:
        """The submodule that defines constant ``name`` (re-exports only import it)."""
        prefix = self.package.__name__ + "."
        candidates = [
            m
            for key, m in sorted(sys.modules.items())
            if (key.startswith(prefix) or key == self.package.__name__) and m is not None and getattr(m, name, None) is value
        ]
        for m in candidates:
            if name in getattr(m, "__annotations__", {}):
                return m
        for m in candidates:
            if re.search(rf"^{name}\s*[:=]", inspect.getsource(m), re.M):
                return m
        return candidates[0] if candidates else None

    def members(self, module: ModuleType) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                out.append({"name": name, "kind": "module", "doc": (inspect.getdoc(obj) or "").split("\n\n")[0]})
            elif inspect.isclass(obj):
                kind = "exception" if issubclass(obj, BaseException) else "class"
                member: Dict[str, Any] = {"name": name, "kind": kind, "doc": inspect.getdoc(obj) or ""}
                if kind == "exception":
                    member["type"] = self.public_name(obj.__bases__[0])
                if obj.__name__ != name:  # another name of the same class (CloudomationException)
                    member["aliasOf"] = obj.__name__
                    member["doc"] = comment_docs(sys.modules[obj.__module__]).get(name, member["doc"])
                out.append(member)
            else:
                home = self.constant_home(name, obj) or module
                annotation = getattr(home, "__annotations__", {}).get(name)
                type_text = normalize(annotation, home) if annotation else type(obj).__name__
                out.append(
                    {
                        "name": name,
                        "kind": "constant",
                        "type": strip_wrapper(type_text, "Final"),
                        "doc": comment_docs(home).get(name, ""),
                    }
                )
        return out
