"""The /proc sampler behind bench/scaling.py: parsing and grouping, on text with known answers
(the live read is exercised by the bench itself)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import procstat  # noqa: E402

CID = "4f2ad4e233ca" + "0" * 52
STAT = ("4242 (claude) S 4200 4242 4200 34816 4242 4194560 9000 0 0 0 150 37 0 0 20 0 11 0 "
        "777 1234567890 61234 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0")


def test_stat_fields_are_read_after_the_name() -> None:
    assert procstat.parse_stat(STAT) == (4242, "claude", 4200, 187, 777, 61234)


def test_a_name_with_spaces_and_parens_does_not_shift_the_fields() -> None:
    text = STAT.replace("(claude)", "(evil) S 1 2 (x)")
    assert procstat.parse_stat(text) == (4242, "evil) S 1 2 (x", 4200, 187, 777, 61234)


@pytest.mark.parametrize("cgroup", [
    f"0::/system.slice/docker-{CID}.scope\n",                    # v2, systemd driver
    f"0::/docker/{CID}\n",                                        # v2, cgroupfs driver
    f"12:pids:/docker/{CID}\n11:memory:/docker/{CID}\n",        # v1
])
def test_container_id_from_cgroup(cgroup: str) -> None:
    assert procstat.container_of(cgroup) == CID


def test_a_host_process_has_no_container() -> None:
    assert procstat.container_of("0::/user.slice/user-0.slice/session-1.scope\n") == ""


def _p(pid: int, ppid: int, comm: str, ticks: int = 0, *, cmd: str = "", cg: str = "",
       start: int = 1, rss: int = 0) -> procstat.Proc:
    return procstat.Proc(pid, ppid, comm, ticks, start, rss, cmd or comm, cg)


def test_grouping_keeps_only_the_trials_processes() -> None:
    inside = f"0::/docker/{CID}\n"
    other = "0::/docker/" + "1" * 64 + "\n"
    before = {
        10: _p(10, 1, "python", 100), 11: _p(11, 10, "docker", 5, cmd="docker exec -i x tmux -C"),
        20: _p(20, 1, "claude", 1000, cg=inside), 21: _p(21, 1, "tmux: server", 50, cg=inside),
        22: _p(22, 1, "python3", 3, cmd="python3 /harness/relay_agent.py", cg=inside),
        30: _p(30, 1, "claude", 5000, cg=other), 40: _p(40, 1, "dockerd", 700),
        41: _p(41, 1, "containerd-shim", 9, cmd=f"containerd-shim-runc-v2 -namespace moby -id {CID}"),
        42: _p(42, 1, "containerd-shim", 9, cmd="containerd-shim-runc-v2 -id " + "1" * 64),
    }
    after = {pid: procstat.Proc(p.pid, p.ppid, p.comm, p.ticks + 10, p.start, p.rss_pages,
                                p.cmdline, p.cgroup) for pid, p in before.items()}
    after[12] = _p(12, 10, "docker", 4, cmd="docker exec x true")          # born in between
    after[20] = procstat.Proc(20, 1, "claude", 7, 99, 0, "claude", inside)  # pid reused
    hz = os.sysconf("SC_CLK_TCK")
    used = procstat.cpu_by_group(before, after, container=CID, harness_pid=10)
    assert used["harness"] == 10 / hz
    assert used["docker exec"] == (10 + 4) / hz
    assert used["cli"] == 7 / hz  # the other container's claude is not counted
    assert used["tmux"] == used["relay"] == used["dockerd"] == used["shim"] == 10 / hz
    assert procstat.total(used) == pytest.approx((10 + 14 + 7 + 10 + 10 + 10 + 10) / hz)


def test_rss_sums_pages_per_group() -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    procs = {1: _p(1, 0, "claude", rss=2**20 // page * 3, cg=f"0::/docker/{CID}\n"),
             2: _p(2, 0, "python", rss=2**20 // page)}
    mb = procstat.rss_by_group(procs, container=CID, harness_pid=2)
    assert (mb["cli"], mb["harness"], mb["tmux"]) == (3.0, 1.0, 0.0)
