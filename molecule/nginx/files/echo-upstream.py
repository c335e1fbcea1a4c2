"""A stand-in app server: answers every request with JSON naming this host and echoing the request.

GET/POST /status/<code> answers with that status code, to see how nginx retries failures;
/sleep/<seconds> answers after that long, to hold a request in progress.
Like uvicorn (--timeout-keep-alive, 5 s by default) it closes a connection idle for 5 s.
"""

import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A read that waits longer ends the connection: this server then closes it, as uvicorn does.
    timeout = 5

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "server": socket.gethostname(),
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
            }
        ).encode()
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        if self.path.startswith("/sleep/"):
            time.sleep(float(self.path.split("/")[2]))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Echo).serve_forever()
