"""Built-in connectors, run as kind=connection jobs by real forked workers."""

import http.server
import json
import os
import sqlite3
import threading
import unittest

from tests.fake_runner import FakeRunner


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/missing"):
            self._reply(404, {"error": "no such thing"})
        else:
            self._reply(200, {"path": self.path, "auth": self.headers.get("Authorization")})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(201, {"received": json.loads(body), "type": self.headers["Content-Type"]})

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ConnectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runner = FakeRunner()
        cls.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.http.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        cls.http.server_close()
        cls.runner.close()

    def connect(self, connector_type, **params):
        job = self.runner.job(kind="connection", connector_type=connector_type, connector_params=params)
        run = self.runner.finish(self.runner.spawn(job))
        self.assertEqual(run.messages[0], {"type": "started"})
        return run.end

    def test_rest_get_with_query_and_headers(self):
        end = self.connect("REST", url=self.base + "/items", params={"page": 2}, headers={"Authorization": "Bearer t"})
        self.assertEqual(end["status"], "SUCCEEDED")
        out = end["output_value"]
        self.assertEqual(out["status_code"], 200)
        self.assertEqual(out["json"], {"path": "/items?page=2", "auth": "Bearer t"})
        self.assertEqual(json.loads(out["text"]), out["json"])
        self.assertEqual(out["headers"]["Content-Type"], "application/json")

    def test_rest_post_json(self):
        end = self.connect("REST", url=self.base + "/orders", method="POST", json={"id": 42})
        self.assertEqual(end["output_value"]["status_code"], 201)
        self.assertEqual(end["output_value"]["json"], {"received": {"id": 42}, "type": "application/json"})

    def test_rest_error_status_fails_with_status_line(self):
        end = self.connect("REST", url=self.base + "/missing")
        self.assertEqual(end["status"], "FAILED")
        self.assertIn("HTTP 404 Not Found", end["message"])
        self.assertEqual(end["output_value"]["json"], {"error": "no such thing"})

    def test_rest_unreachable_fails(self):
        end = self.connect("REST", url="http://127.0.0.1:1/", timeout=2)
        self.assertEqual(end["status"], "FAILED")
        self.assertIn("refused", end["message"].lower())

    def test_sqlite_statements(self):
        database = os.path.join(self.runner.tmp, "test.db")
        end = self.connect("SQLITE", database=database, execute="CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        self.assertEqual(end["status"], "SUCCEEDED")
        end = self.connect("SQLITE", database=database, execute="INSERT INTO t (name) VALUES (?)", params=["ada"])
        self.assertEqual(end["output_value"], {"rowcount": 1, "lastrowid": 1})
        self.connect("SQLITE", database=database, execute="INSERT INTO t (name) VALUES (:n)", params={"n": "bob"})
        end = self.connect("SQLITE", database=database, fetchall="SELECT id, name FROM t ORDER BY id")
        self.assertEqual(end["output_value"], [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}])
        end = self.connect("SQLITE", database=database, fetchone="SELECT name FROM t WHERE id = ?", params=[2])
        self.assertEqual(end["output_value"], {"name": "bob"})
        end = self.connect("SQLITE", database=database, fetchval="SELECT count(*) FROM t")
        self.assertEqual(end["output_value"], 2)
        with sqlite3.connect(database) as conn:
            self.assertEqual(conn.execute("SELECT count(*) FROM t").fetchone()[0], 2)

    def test_sqlite_errors_fail(self):
        database = os.path.join(self.runner.tmp, "errors.db")
        end = self.connect("SQLITE", database=database, fetchall="SELECT * FROM nowhere")
        self.assertEqual(end["status"], "FAILED")
        self.assertIn("no such table", end["message"])
        end = self.connect("SQLITE", database=database)
        self.assertIn("exactly one of", end["message"])

    def test_shell_command(self):
        end = self.connect("SHELL", command="echo $GREETING; cat; pwd", env={"GREETING": "hi"}, input="piped", cwd="/")
        self.assertEqual(end["status"], "SUCCEEDED")
        self.assertEqual(end["output_value"], {"returncode": 0, "stdout": "hi\npiped/\n", "stderr": ""})
        end = self.connect("SHELL", command=["printf", "%s", "a b"])
        self.assertEqual(end["output_value"]["stdout"], "a b")

    def test_shell_nonzero_exit_fails_unless_check_is_false(self):
        end = self.connect("SHELL", command="echo oops >&2; exit 3")
        self.assertEqual(end["status"], "FAILED")
        self.assertIn("status 3: oops", end["message"])
        self.assertEqual(end["output_value"]["returncode"], 3)
        end = self.connect("SHELL", command="exit 3", check=False)
        self.assertEqual((end["status"], end["output_value"]["returncode"]), ("SUCCEEDED", 3))

    def test_unknown_connector_type(self):
        end = self.connect("FTP", host="x")
        self.assertEqual(end["status"], "FAILED")
        self.assertEqual(end["message"], "unknown connector type 'FTP': built-in types are REST, SQLITE, SHELL")


if __name__ == "__main__":
    unittest.main()
