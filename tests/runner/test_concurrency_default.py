"""The default number of trials at once comes from the machine's cores and its free memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runner.run import available_mb, concurrency_for


@pytest.mark.parametrize(("cores", "mb", "want"), [
    (2, 22_000, 8),      # this project's 2-core machine: the cores decide
    (8, 24_576, 32),     # the 24 GiB machine, 8 cores: 4 per core, memory would allow 46
    (32, 24_576, 46),    # many cores: memory decides ((24576 - 1024) // 512)
    (4, 3_000, 3),       # little memory: fewer than the cores would carry
    (16, 900, 1),        # less than the reserve: still one
    (0, 8_000, 4),       # an unknown core count counts as one
])
def test_known_answers(cores: int, mb: float, want: int) -> None:
    assert concurrency_for(cores, mb) == want


def test_memory_is_read_from_memavailable(tmp_path: Path) -> None:
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20480000 kB\n")
    assert available_mb(str(f)) == 20_000


def test_unreadable_meminfo_falls_back_to_physical_memory(tmp_path: Path) -> None:
    assert available_mb(str(tmp_path / "missing")) > 0
