"""report.html opened in headless Chromium (Debian's ``chromium``): a screenshot smoke test.

The session fixture installs ``chromium`` with apt-get when it is missing and we run as root
(CI images); otherwise the test skips outside CI and fails under CI=true (conftest.need).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """tests/conftest.py's rule (skip outside CI, fail under CI=true), restated here because
    another folder's ``conftest`` module can shadow the root one on import."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


import chromium_cdp
from gate_helpers import sample_trials

from gate.decision import decide
from gate.report import write_reports

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    path = shutil.which("chromium")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "update"], check=False, capture_output=True, env=env, timeout=600
        )
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
            check=False,
            capture_output=True,
            env=env,
            timeout=1200,
        )
        path = shutil.which("chromium")
    need(path is not None, "chromium is not installed (apt-get install chromium, as root)")
    assert path is not None
    yield path


def png_size_and_colors(data: bytes) -> tuple[int, int, int]:
    """Width, height and a count of distinct sampled pixels of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    # Sample raw scanline bytes (filter bytes included): enough to tell a blank page apart.
    colors = {
        raw[i : i + channels]
        for r in range(0, height, 7)
        for i in range(r * stride + 1, r * stride + stride - channels, channels * 13)
    }
    return width, height, len(colors)


def test_report_html_screenshot(chromium: str, tmp_path: Path) -> None:
    trials = sample_trials()
    paths = write_reports(decide(trials), trials, tmp_path / "report", run_dir=tmp_path)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    cmd = [
        chromium,
        *chromium_cdp.FLAGS,  # one list: nothing leaves this machine
        f"--user-data-dir={profile}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        paths.html.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), f"no screenshot; chromium said: {proc.stderr[-2000:]}"
    data = shot.read_bytes()
    assert len(data) > 10_000
    width, height, colors = png_size_and_colors(data)
    assert (width, height) == (1280, 2000)
    assert colors > 20  # badges, bars and table shading, not a blank page
