"""What the editor adds on top of the model: string values, record-field keywords, markdown.

None of this is written in flow_api as editor data; it is derived from names the API already
has, so nothing here needs an edit when a method is added:

* a parameter named ``flow_name`` (and ``select`` of ``system.flow``) takes flow names;
  ``connector_type`` / ``connector_name`` a connector type; ``wrapper`` one of
  ``Wrapped.WRAPPERS``; a parameter typed ``ReturnWhen | str`` a ReturnWhen member;
  ``*fields`` of a record class one of that class's ``FIELDS``.
* keywords a ``**kwargs`` turns into record fields are listed as ``field`` parameters, so the
  editor can complete and explain them: the child's record fields for ``flow``/``connect``/
  ``task``/``clone`` (``CHILD_RECORD_FIELDS``), ``SAVABLE_FIELDS`` for ``Execution.save``, the
  class's ``FIELDS`` for ``save``/``set`` of other records and for ``**init`` of ``system.<type>()``.
  The stubs leave them out: Python receives them through ``**kwargs``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List


def markdown(doc: str) -> str:
    """reST-ish docstrings as markdown: ````code```` -> `code`, ``:meth:`x``` -> `x`."""
    doc = re.sub(r":(?:meth|class|data|mod|func|attr|exc):`~?([^`]+)`", r"`\1`", doc)
    return doc.replace("``", "`")


def add_editor_data(model: Dict[str, Any], flow_api: Any) -> None:
    classes: Dict[str, Dict[str, Any]] = model["classes"]
    execution_module = flow_api.execution
    value_sets: Dict[str, List[Dict[str, str]]] = {
        "connectorTypes": model["connectorTypes"],
        "wrappers": [{"name": w, "doc": f"the `{w}` wrapper"} for w in flow_api.Wrapped.WRAPPERS],
        "returnWhen": [
            {"name": a["name"], "doc": a["doc"]} for a in classes["ReturnWhen"]["attributes"] if "value" in a
        ],
    }
    for cls in classes.values():
        if "fields" in cls:
            value_sets[f"fields:{cls['name']}"] = cls["fields"]
    model["valueSets"] = value_sets

    def fields_of(cls_name: str, names: Any = None) -> List[Dict[str, str]]:
        fields = {f["name"]: f["doc"] for f in classes[cls_name].get("fields", [])}
        return [{"name": n, "doc": fields.get(n, "")} for n in (names if names is not None else fields)]

    for cls in classes.values():
        for method in cls["methods"]:
            returns = method["returns"].replace(" | None", "")
            for param in method["params"]:
                values = value_set(cls, method, param, returns)
                if values:
                    param["values"] = values
            kwargs = next((p for p in method["params"] if p["kind"] == "kwargs"), None)
            if kwargs is None:
                continue
            fields: List[Dict[str, str]] = []
            if cls["name"] == "Execution" and method["name"] == "save":
                fields = fields_of("Execution", execution_module.SAVABLE_FIELDS)
            elif cls["name"] == "Execution" and "fields" in kwargs["name"]:
                fields = fields_of("Execution", execution_module.CHILD_RECORD_FIELDS)
            elif kwargs["name"] == "fields" and "fields" in cls:
                fields = fields_of(cls["name"])
            elif cls["name"] == "System" and kwargs["name"] == "init" and "fields" in classes.get(returns, {}):
                fields = fields_of(returns)
            named = {p["name"] for p in method["params"]}
            extra = [
                {"name": f["name"], "kind": "keyword", "type": "Any", "default": "...", "doc": f["doc"], "field": True}
                for f in fields
                if f["name"] not in named
            ]
            at = method["params"].index(kwargs)
            method["params"][at:at] = extra


def value_set(cls: Dict[str, Any], method: Dict[str, Any], param: Dict[str, Any], returns: str) -> str:
    name, kind = param["name"], param["kind"]
    if name == "flow_name" or (cls["name"] == "System" and returns == "Flow" and name == "select"):
        return "flows"
    if name in ("connector_type", "connector_name"):
        return "connectorTypes"
    if name == "wrapper":
        return "wrappers"
    if "ReturnWhen" in param["type"] and "str" in param["type"].split(" | "):
        return "returnWhen"
    if kind == "varargs" and name == "fields" and "fields" in cls:
        return f"fields:{cls['name']}"
    return ""


def to_markdown(model: Dict[str, Any]) -> None:
    """Every ``doc`` of the model, in place."""
    if isinstance(model, dict):
        for key, value in model.items():
            if key == "doc" and isinstance(value, str):
                model[key] = markdown(value)
            else:
                to_markdown(value)
    elif isinstance(model, list):
        for item in model:
            to_markdown(item)
