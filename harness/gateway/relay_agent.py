"""In-container half of the harness relay, the twin of relay.js (same frames, same rules).

Why a Python twin: every sandbox starts one relay, and ``node`` costs ~150 ms of CPU to
start where ``python3`` (in the base image) costs ~15 ms. relay.js stays the fallback for
images without python3. Standard library only; it runs inside the sandbox as a script.

    python3 relay_agent.py [HOST] [PORT]   (defaults 127.0.0.1 and 0 = any free port)

Frames on stdin/stdout: type (1 byte) | connection id (uint32 BE) | length (uint32 BE) |
payload. OPEN, DATA, END (half-close), RESET, HELLO {"port": N}, FATAL message. When stdin
ends, every connection is dropped and the process exits.
"""

import json
import os
import selectors
import socket
import struct
import sys

OPEN, DATA, END, RESET, HELLO, FATAL = 1, 2, 3, 4, 5, 6
HEAD = struct.Struct(">BII")
MAX_PAYLOAD = 1 << 20


class Conn:
    """One client connection: bytes waiting to be written to it, and its two halves."""

    def __init__(self, cid, sock):
        self.cid, self.sock = cid, sock
        self.out = bytearray()
        self.end_pending = False  # the host ended: shut our write side once ``out`` is sent
        self.read_done = False  # the client ended (END sent to the host)
        self.write_done = False


class Relay:
    def __init__(self, host, port):
        self.sel = selectors.DefaultSelector()
        self.conns = {}
        self.next_id = 1
        self.inbuf = bytearray()
        self.out = sys.stdout.buffer
        try:
            self.server = socket.create_server((host, port), reuse_port=False, backlog=128)
        except OSError as exc:
            self.send(FATAL, 0, f"relay cannot listen on {host}:{port}: {exc}".encode())
            sys.exit(1)
        self.server.setblocking(False)
        self.sel.register(self.server, selectors.EVENT_READ, None)
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, "stdin")
        self.send(HELLO, 0, json.dumps({"port": self.server.getsockname()[1]}).encode())

    def send(self, ftype, cid, payload=b""):
        """A blocking write: a slow host half slows every client (backpressure)."""
        try:
            if not payload:
                self.out.write(HEAD.pack(ftype, cid, 0))
            for off in range(0, len(payload), MAX_PAYLOAD):
                chunk = payload[off:off + MAX_PAYLOAD]
                self.out.write(HEAD.pack(ftype, cid, len(chunk)) + chunk)
            self.out.flush()
        except (BrokenPipeError, OSError):
            self.shutdown(0)

    def shutdown(self, code):
        for c in list(self.conns.values()):
            c.sock.close()
        self.conns.clear()
        os._exit(code)

    def watch(self, c):
        """Register for what ``c`` needs now: reading until the client ends, writing while
        bytes wait; neither means the connection is finished."""
        events = (0 if c.read_done else selectors.EVENT_READ) | (selectors.EVENT_WRITE if c.out else 0)
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        if events:
            self.sel.register(c.sock, events, c)

    def drop(self, c, tell_host):
        if self.conns.pop(c.cid, None) is None:
            return
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        if tell_host:
            self.send(RESET, c.cid)

    def finish_if_done(self, c):
        if c.read_done and c.write_done:
            self.drop(c, tell_host=True)  # both halves closed: as relay.js's 'close'

    def accept(self):
        try:
            sock, _ = self.server.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(self.next_id, sock)
        self.next_id += 1
        self.conns[c.cid] = c
        self.send(OPEN, c.cid)
        self.watch(c)

    def on_client(self, c, mask):
        if mask & selectors.EVENT_READ and not c.read_done:
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                self.drop(c, tell_host=True)
                return
            if data:
                self.send(DATA, c.cid, data)
            elif data == b"":
                c.read_done = True
                self.send(END, c.cid)
        if c.cid in self.conns and mask & selectors.EVENT_WRITE:
            self.flush(c)
        if c.cid in self.conns:
            self.watch(c)
            self.finish_if_done(c)

    def flush(self, c):
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(c, tell_host=True)
            return
        del c.out[:n]
        if not c.out and c.end_pending and not c.write_done:
            c.write_done = True
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def on_stdin(self):
        try:
            chunk = os.read(0, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.shutdown(0)
        self.inbuf += chunk
        while len(self.inbuf) >= HEAD.size:
            ftype, cid, length = HEAD.unpack_from(self.inbuf)
            if len(self.inbuf) < HEAD.size + length:
                break
            payload = bytes(self.inbuf[HEAD.size:HEAD.size + length])
            del self.inbuf[:HEAD.size + length]
            c = self.conns.get(cid)
            if c is None:
                continue
            if ftype == DATA:
                c.out += payload
                self.flush(c)
            elif ftype == END:
                c.end_pending = True
                self.flush(c)
            elif ftype == RESET:
                self.drop(c, tell_host=False)
                continue
            if c.cid in self.conns:
                self.watch(c)
                self.finish_if_done(c)

    def run(self):
        while True:
            for key, mask in self.sel.select():
                if key.data is None:
                    self.accept()
                elif key.data == "stdin":
                    self.on_stdin()
                elif key.data.cid in self.conns:
                    self.on_client(key.data, mask)


if __name__ == "__main__":
    Relay(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1",
          int(sys.argv[2]) if len(sys.argv) > 2 else 0).run()
