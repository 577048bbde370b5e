"""An exec's output arrives whole: the frames that came in with the engine's response headers
are not lost (docker-py's reader loses them), stdout and stderr stay apart, and a command
that is silent for longer than the client's socket timeout still returns its output."""

from __future__ import annotations

import http.client
import socket
import struct
import threading

import pytest

from controllers.sandbox import DockerSandbox
from controllers.sandbox.exec_stream import exec_output, read_frames
from harness import engine


def _frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


FRAMES = [(1, b"first line\n"), (2, b"warning: a\n"), (1, b""), (1, b"x" * 70_000), (2, b"last\n")]
WIRE = b"".join(_frame(s, d) for s, d in FRAMES)
WANT = (b"first line\n" + b"x" * 70_000, b"warning: a\nlast\n")


def _response_on_one_send() -> tuple[http.client.HTTPResponse, socket.socket]:
    """A real socket whose peer sent the upgrade response and every frame in one write, the
    way a fast command's output reaches a client that reads the headers late."""
    ours, theirs = socket.socketpair()
    theirs.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                   b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + WIRE)
    theirs.close()
    resp = http.client.HTTPResponse(ours)
    resp.begin()
    assert resp.status == 101
    return resp, ours


def test_frames_read_with_the_headers_are_kept() -> None:
    resp, sock = _response_on_one_send()
    try:
        assert read_frames(resp.fp) == WANT
    finally:
        sock.close()


def test_the_raw_socket_under_the_response_has_lost_them() -> None:
    """Why exec_stream exists: the bytes after the headers are already in the response's
    buffer, so a reader of the socket beneath it (docker-py's) starts in the middle of the
    stream and parses a frame header out of the data."""
    resp, sock = _response_on_one_send()
    try:
        sock.settimeout(2)
        assert resp.fp.peek()[:8] == WIRE[:8]  # the first frame's header is in the buffer
        assert sock.recv(8) == b"x" * 8  # the socket's next bytes are the middle of frame 4
    finally:
        sock.close()


def test_a_frame_cut_short_keeps_what_arrived() -> None:
    import io

    cut = _frame(1, b"abc") + _frame(2, b"partial frame")[:10]
    assert read_frames(io.BufferedReader(io.BytesIO(cut))) == (b"abc", b"pa")


@pytest.mark.docker
def test_large_interleaved_output_comes_back_whole_from_many_threads(docker_box: DockerSandbox) -> None:
    script = ("i=0; while [ $i -lt 3000 ]; do echo out $i; [ $((i % 7)) -eq 0 ] && echo err $i >&2; "
              "i=$((i+1)); done")
    want_out = "".join(f"out {i}\n" for i in range(3000))
    want_err = "".join(f"err {i}\n" for i in range(0, 3000, 7))
    bad: list[str] = []

    def work() -> None:
        for _ in range(5):
            r = docker_box.exec(["sh", "-c", script])
            if (r.exit_code, r.stdout, r.stderr) != (0, want_out, want_err):
                bad.append(f"exit {r.exit_code}, {len(r.stdout)} + {len(r.stderr)} chars")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert bad == []


@pytest.mark.docker
def test_silence_longer_than_the_clients_socket_timeout(docker_box: DockerSandbox) -> None:
    api = engine.client(timeout_sec=3).api
    ex = api.exec_create(docker_box.container_id, ["sh", "-c", "sleep 8; echo done"])
    assert exec_output(api, ex["Id"]) == (b"done\n", b"")
