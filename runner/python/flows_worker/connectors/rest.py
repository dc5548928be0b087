"""REST connector: one HTTP request with urllib.

Parameters: ``url`` (required), ``method`` (default GET, or POST when a body is given),
``headers``, ``params``/``query`` (added to the URL), ``json`` or ``data`` (the body; a dict
``data`` is form-encoded), ``timeout`` in seconds (default 60).
Output: ``{status_code, headers, text, json}`` (``json`` only when the body is JSON). A status of
400 or more fails the execution with the status line; the output is still kept.
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from .base import ConnectorError, require


def run(params):
    url = require(params, "url", str, "REST")
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    query = params.get("params") or params.get("query")
    if query:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query, doseq=True)
    body = _body(params, headers)
    method = str(params.get("method") or ("POST" if body is not None else "GET")).upper()
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        response = urllib.request.urlopen(request, timeout=float(params.get("timeout") or 60))
    except urllib.error.HTTPError as err:
        response = err  # an HTTPError is the response of a status >= 400
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectorError(f"{method} {url}: {reason}") from None
    with response:
        output = _output(response)
    if response.status >= 400:
        raise ConnectorError(f"{method} {url}: HTTP {response.status} {response.reason}", output)
    return output


def _body(params, headers):
    if params.get("json") is not None:
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(params["json"]).encode("utf-8")
    data = params.get("data")
    if data is None:
        return None
    if isinstance(data, dict):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urllib.parse.urlencode(data, doseq=True).encode("utf-8")
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _output(response):
    raw = response.read()
    charset = response.headers.get_content_charset() or "utf-8"
    text = raw.decode(charset, errors="replace")
    output = {"status_code": response.status, "headers": dict(response.headers.items()), "text": text}
    if "json" in (response.headers.get_content_type() or ""):
        try:
            output["json"] = json.loads(text)
        except ValueError:
            pass
    return output
