"""Per-process CPU and memory from the host's /proc, grouped by the part of a trial each
process plays (the CLI, tmux, the relay, the harness, ``docker exec`` clients, the engine).

Why /proc and not ``docker stats``: a container's processes are ordinary host processes, so
one read of /proc sees the CLI inside the sandbox and the engine outside it with the same
clock, and costs no engine call (a stats stream would itself be load on dockerd). Processes
of the trial's container are told apart from other containers' (other users of the machine
run their own claude) by the container id in ``/proc/PID/cgroup``.

The parsing functions are pure (text in, values out) and unit-tested; :func:`snapshot` reads
the live /proc.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: groups in the order the tables print them
GROUPS = ("cli", "tmux", "relay", "container other", "harness", "docker exec",
          "dockerd", "containerd", "shim")
#: the engine's daemons serve every container on the machine: shown, but not the trial's alone
SHARED = ("dockerd", "containerd")
#: the agents' CLI processes (aider is a Python entry point; gemini and qwen run on node)
CLIS = ("claude", "codex", "node", "opencode", "aider", "gemini", "qwen")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    ticks: int          # utime + stime, in clock ticks (USER_HZ)
    start: int          # start time after boot, in ticks: tells a reused pid apart
    rss_pages: int
    cmdline: str = ""
    cgroup: str = ""


def parse_stat(text: str) -> tuple[int, str, int, int, int, int]:
    """``/proc/PID/stat`` -> (pid, comm, ppid, utime+stime, starttime, rss pages).

    The command name sits in parentheses and may itself hold spaces and ')' (a process can
    name itself anything), so the fields are counted from the last ')'."""
    head, _, tail = text.rpartition(")")
    pid_s, _, comm = head.partition(" (")
    f = tail.split()
    # f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22, rss 24
    return int(pid_s), comm, int(f[1]), int(f[11]) + int(f[12]), int(f[19]), int(f[21])


def container_of(cgroup_text: str) -> str:
    """The 64-hex container id in ``/proc/PID/cgroup`` (cgroup v1 or v2, cgroupfs or
    systemd driver), or ''."""
    for line in cgroup_text.splitlines():
        path = line.rpartition(":")[2]
        for part in reversed(path.split("/")):
            part = part.removeprefix("docker-").removesuffix(".scope")
            if len(part) == 64 and all(c in "0123456789abcdef" for c in part):
                return part
    return ""


def descendants(procs: dict[int, Proc], root: int) -> set[int]:
    """``root`` and every process below it."""
    kids: dict[int, list[int]] = {}
    for p in procs.values():
        kids.setdefault(p.ppid, []).append(p.pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out.add(pid)
        todo.extend(kids.get(pid, ()))
    return out


def classify(p: Proc, *, container: str, mine: set[int]) -> str | None:
    """Which part of the trial ``p`` is, or None when it is not the trial's.

    ``container`` is the trial's container id; ``mine`` the harness process and its
    children (the ``docker exec`` clients it started)."""
    args = p.cmdline
    if container and container_of(p.cgroup) == container:
        if "relay" in args:
            return "relay"
        if p.comm.startswith("tmux"):
            return "tmux"
        if p.comm in CLIS or any(f"/{c}" in args.split(" ", 1)[0] for c in CLIS):
            return "cli"
        return "container other"
    if p.pid in mine:
        return "docker exec" if p.comm == "docker" else "harness"
    if p.comm == "dockerd":
        return "dockerd"
    if p.comm == "containerd":
        return "containerd"
    if p.comm.startswith("containerd-shim") and container and container in args:
        return "shim"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def snapshot(root: str = "/proc") -> dict[int, Proc]:
    """Every live process, read once (a process that exits meanwhile is left out)."""
    out: dict[int, Proc] = {}
    for d in Path(root).iterdir():
        if not d.name.isdigit():
            continue
        stat = _read(d / "stat")
        if not stat:
            continue
        try:
            pid, comm, ppid, ticks, start, rss = parse_stat(stat)
        except (ValueError, IndexError):
            continue
        cmd = _read(d / "cmdline").replace("\0", " ").strip()
        out[pid] = Proc(pid, ppid, comm, ticks, start, rss, cmd, _read(d / "cgroup"))
    return out


def cpu_by_group(before: dict[int, Proc], after: dict[int, Proc], *, container: str,
                 harness_pid: int) -> dict[str, float]:
    """CPU seconds each group used between two snapshots. A process born in between counts
    from zero; one that died in between is lost (its last interval is unknown)."""
    hz = os.sysconf("SC_CLK_TCK")
    mine = descendants(after, harness_pid) | descendants(before, harness_pid)
    used: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
    for pid, p in after.items():
        group = classify(p, container=container, mine=mine)
        if group is None:
            continue
        b = before.get(pid)
        base = b.ticks if b is not None and b.start == p.start else 0
        used[group] += (p.ticks - base) / hz
    return used


def rss_by_group(procs: dict[int, Proc], *, container: str, harness_pid: int) -> dict[str, float]:
    """Resident MiB each group holds now."""
    page = os.sysconf("SC_PAGE_SIZE")
    mine = descendants(procs, harness_pid)
    mb: dict[str, float] = dict.fromkeys(GROUPS, 0.0)
    for p in procs.values():
        group = classify(p, container=container, mine=mine)
        if group is not None:
            mb[group] += p.rss_pages * page / 2**20
    return mb


def total(values: dict[str, float], groups: Iterable[str] = GROUPS) -> float:
    return sum(values[g] for g in groups)


def cgroup_cpu_sec(container: str, root: str = "/sys/fs/cgroup") -> float | None:
    """CPU seconds every process of a container ever used (the dead ones too): its cgroup's
    counter, cgroup v1 (``cpuacct.usage``, ns) or v2 (``cpu.stat`` ``usage_usec``), for the
    cgroupfs and systemd drivers. None when not readable here."""
    for path, scale in ((f"{root}/cpuacct/docker/{container}/cpuacct.usage", 1e-9),
                        (f"{root}/cpu,cpuacct/docker/{container}/cpuacct.usage", 1e-9)):
        text = _read(Path(path)).strip()
        if text.isdigit():
            return int(text) * scale
    for d in (f"{root}/docker/{container}", f"{root}/system.slice/docker-{container}.scope"):
        for line in _read(Path(d) / "cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdigit():
                return int(value) * 1e-6
    return None


class RunCpu:
    """CPU a run used itself, however busy the rest of the machine is: this process with the
    children it reaped (the ``docker exec`` clients), plus every container of the run (its
    cgroup counter, read twice a second while it lives: a container removed between two reads
    loses at most its last half second, its teardown) and those containers' shims.

    ``containers`` () -> ids of the run's containers (an engine query, made every 2 s)."""

    def __init__(self, containers: Callable[[], list[str]], every_sec: float = 0.5) -> None:
        import threading
        self._list, self.every = containers, every_sec
        self._seen: dict[str, float] = {}       # container -> largest counter read
        self._first: dict[str, float] = {}      # container -> counter at its first read
        self._shims: dict[tuple[int, int], tuple[int, int]] = {}  # (pid, start) -> (first, last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._ids: list[str] = []

    def __enter__(self) -> RunCpu:
        self._t0 = os.times()
        self._known = set(self._list())  # containers from before: counted from their first read
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()
        a, b = self._t0, os.times()
        self.harness_sec = (b.user + b.system + b.children_user + b.children_system) - \
            (a.user + a.system + a.children_user + a.children_system)

    def _loop(self) -> None:
        import time
        listed_at = 0.0
        while not self._stop.wait(self.every):
            if time.monotonic() - listed_at >= 2.0:  # new containers and their shims
                try:
                    self._ids = self._list()
                except Exception:  # noqa: BLE001 - a bench keeps the last list
                    pass
                self._shim_pids = self._find_shims()
                listed_at = time.monotonic()
            self._sample()

    def _find_shims(self) -> list[int]:
        """The shims of the run's containers (a whole /proc scan: made every 2 s, not at
        every sample, so the sampler itself costs this process little)."""
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit() and _read(d / "comm").startswith("containerd-shim"):
                cmd = _read(d / "cmdline")
                if any(cid in cmd for cid in self._ids):
                    out.append(int(d.name))
        return out

    def _sample(self) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        for cid in self._ids:
            used = cgroup_cpu_sec(cid)
            if used is None:
                continue
            self._first.setdefault(cid, used if cid in self._known else 0.0)
            self._seen[cid] = max(self._seen.get(cid, 0.0), used)
        for pid in getattr(self, "_shim_pids", ()):
            try:
                pid, _, _, ticks, start, _ = parse_stat(_read(Path(f"/proc/{pid}/stat")))
            except (ValueError, IndexError):
                continue
            first, _ = self._shims.get((pid, start), (ticks, ticks))
            self._shims[(pid, start)] = (first, ticks)
        self.shim_sec = sum(b - a for a, b in self._shims.values()) / hz

    @property
    def containers_sec(self) -> float:
        return sum(self._seen[c] - self._first[c] for c in self._seen)

    @property
    def total_sec(self) -> float:
        return self.harness_sec + self.containers_sec + getattr(self, "shim_sec", 0.0)
