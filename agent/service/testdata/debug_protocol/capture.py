#!/usr/bin/env python3
"""Captures the bytes of real debugger conversations through a recording proxy, for the tunnel's
framing tests (agent/service/debug_protocol_test.cc).

It builds tests/targets/hello-world without optimisation, starts it on a loopback port, attaches
the bundled Delve to it (`dlv attach PID --headless --accept-multiclient --api-version 2`, as the
agent does), and puts a proxy in front of Delve's port that appends each direction's bytes, as
they arrive, to a file:

  dlv-client-to-delve.bin / dlv-delve-to-client.bin   `dlv connect` (JSON-RPC v2, Go's
      net/rpc/jsonrpc codec) running: break main.handleSlash, continue (a request hits it),
      print r.Host, print nosuchvar (an error reply),
      stack, clearall, quit -c (continues)
  dap-client-to-delve.bin / dap-delve-to-client.bin   a DAP client doing what VS Code's Go
      extension does for a "remote" attach: initialize, attach {mode: remote}, setBreakpoints,
      configurationDone, (a request stops there) threads, stackTrace, scopes, variables,
      setBreakpoints [] , continue, disconnect {terminateDebuggee: false}

Usage (root, Go and scripts/delve built):
  agent/service/testdata/debug_protocol/capture.py [DLV]   (default: scripts/delve path v1.27.2)
Nothing is trimmed; the files are the bytes as sent. Cleans up every process it starts.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class RecordingProxy:
    """Accepts one connection on `port` and forwards it to Delve, recording both directions."""

    def __init__(self, delve_port, name):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.delve_port = delve_port
        self.name = name
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.delve_port))
        pumps = [
            threading.Thread(target=self.pump, args=(client, server, "client-to-delve")),
            threading.Thread(target=self.pump, args=(server, client, "delve-to-client")),
        ]
        for p in pumps:
            p.start()
        for p in pumps:
            p.join()
        client.close()
        server.close()

    def pump(self, src, dst, direction):
        with open(os.path.join(HERE, f"{self.name}-{direction}.bin"), "wb") as out:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                out.write(data)
                out.flush()
                dst.sendall(data)


def requests_until(stop, port):
    while not stop.is_set():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read()
        except Exception:
            pass
        time.sleep(0.2)


class Dap:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.seq = 0
        self.events = []

    def send(self, command, arguments):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def read(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        n = int(head.split(b":")[1])
        while len(rest) < n:
            rest += self.sock.recv(65536)
        self.buf = rest[n:]
        return json.loads(rest[:n])

    def request(self, command, arguments):
        seq = self.send(command, arguments)
        while True:
            m = self.read()
            if m["type"] == "response" and m["request_seq"] == seq:
                if not m["success"]:
                    raise RuntimeError(f"{command}: {m}")
                return m
            self.events.append(m)

    def wait_event(self, name):
        for i, e in enumerate(self.events):
            if e.get("event") == name:
                return self.events.pop(i)
        while True:
            m = self.read()
            if m["type"] == "event" and m["event"] == name:
                return m
            self.events.append(m)


def main():
    dlv = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        [os.path.join(ROOT, "scripts/delve"), "path", "v1.27.2"], text=True).strip()
    work = tempfile.mkdtemp(prefix="kdbg-capture-")
    procs = []
    try:
        exe = os.path.join(work, "hello-world")
        subprocess.check_call(["go", "build", "-gcflags=all=-N -l", "-o", exe, "."],
                              cwd=os.path.join(ROOT, "tests/targets/hello-world"))
        http_port = free_port()
        target = subprocess.Popen([exe], env=dict(os.environ, HELLO_ADDR=f"127.0.0.1:{http_port}"))
        procs.append(target)
        wait_port(http_port)
        delve_port = free_port()
        delve = subprocess.Popen(
            [dlv, "attach", str(target.pid), "--headless", "--accept-multiclient",
             "--api-version", "2", "--listen", f"127.0.0.1:{delve_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(delve)
        wait_port(delve_port)

        # JSON-RPC: the dlv terminal, its commands read from stdin.
        stop = threading.Event()
        loop = threading.Thread(target=requests_until, args=(stop, http_port), daemon=True)
        loop.start()
        proxy = RecordingProxy(delve_port, "dlv")
        out = subprocess.run(
            [dlv, "connect", f"127.0.0.1:{proxy.port}"],
            input="break main.handleSlash\ncontinue\nprint r.Host\nprint nosuchvar\nstack\nclearall\n"
                  "quit -c\n",
            text=True, capture_output=True, env=dict(os.environ, TERM="dumb"), timeout=60)
        proxy.thread.join(10)
        print(out.stdout, out.stderr, file=sys.stderr)

        # DAP: VS Code's remote attach.
        proxy = RecordingProxy(delve_port, "dap")
        dap = Dap(proxy.port)
        dap.request("initialize", {"adapterID": "go", "pathFormat": "path",
                                   "linesStartAt1": True, "columnsStartAt1": True})
        dap.request("attach", {"request": "attach", "mode": "remote"})
        src = os.path.join(ROOT, "tests/targets/hello-world/main.go")
        dap.request("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": 11}]})
        dap.request("configurationDone", {})
        stopped = dap.wait_event("stopped")
        tid = stopped["body"]["threadId"]
        dap.request("threads", {})
        frames = dap.request("stackTrace", {"threadId": tid, "levels": 1})
        scopes = dap.request("scopes", {"frameId": frames["body"]["stackFrames"][0]["id"]})
        dap.request("variables",
                    {"variablesReference": scopes["body"]["scopes"][0]["variablesReference"]})
        dap.request("setBreakpoints", {"source": {"path": src}, "breakpoints": []})
        dap.request("continue", {"threadId": tid})
        dap.request("disconnect", {"terminateDebuggee": False})
        dap.sock.close()
        proxy.thread.join(10)
        stop.set()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()  # Delve detaches on SIGTERM with no breakpoint left
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.call(["rm", "-rf", work])


if __name__ == "__main__":
    main()
