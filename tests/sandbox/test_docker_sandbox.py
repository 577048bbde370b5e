"""DockerSandbox on the real engine: labels, init, limits, isolation, teardown."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import threading
import uuid
from typing import Any

import pytest

from controllers.sandbox import DockerSandbox, DockerSandboxConfig, SandboxLimits
from harness import labels
from harness.errors import ConfigError, ImageError, SandboxClosed

pytestmark = pytest.mark.docker


def _cfg(image: str, **kw: Any) -> DockerSandboxConfig:
    return DockerSandboxConfig(image=image, run_id=f"t-{uuid.uuid4().hex[:6]}", **kw)


def test_labels_init_and_limits(docker_box: DockerSandbox, docker_client: Any) -> None:
    lbl = docker_box.labels()
    assert lbl[labels.MANAGED] == "true" and lbl[labels.KIND] == "sandbox"
    assert lbl[labels.OWNER_PID] == str(os.getpid())
    assert lbl[labels.OWNER_HOST] == socket.gethostname()
    assert lbl[labels.RUN_ID].startswith("test-") and lbl[labels.CREATED].isdigit()
    attrs = docker_client.api.inspect_container(docker_box.container_id)
    hc = attrs["HostConfig"]
    assert hc["Init"] is True and hc["NetworkMode"] == "none"
    assert hc["Memory"] == SandboxLimits().memory_bytes and hc["PidsLimit"] == 1024
    assert hc["NanoCpus"] == int(2e9) and hc["Binds"] in (None, [])
    assert attrs["Mounts"] == []
    pid1 = docker_box.exec(["cat", "/proc/1/cmdline"]).stdout
    assert "docker-init" in pid1 or "tini" in pid1


def test_runs_as_non_root_agent(docker_box: DockerSandbox) -> None:
    assert docker_box.exec(["id", "-un"]).stdout.strip() == "agent"
    assert docker_box.exec(["id", "-u"], user="root").stdout.strip() == "0"


def test_copy_in_with_files_is_one_archive(docker_box: DockerSandbox, tmp_path: Any) -> None:
    """A workspace plus harness files in one engine call: the missing destination is made
    the user's, the files keep their owners and modes, and nothing else changes owner."""
    (tmp_path / "ws" / "pkg").mkdir(parents=True)
    (tmp_path / "ws" / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "ws" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "ws" / "run.sh").chmod(0o755)
    files = {"/harness/tools/bin/search": ("#!/bin/sh\necho hit\n", 0o755, "agent"),
             "/opt/harness/relay.js": ("// relay\n", 0o644, "root")}
    docker_box.copy_in(tmp_path / "ws", "/srv/work", files=files, roots=("/opt/harness",))
    paths = ("/srv/work /srv/work/pkg /srv/work/pkg/mod.py /srv/work/run.sh /harness/tools/bin/search "
             "/opt/harness/relay.js /opt/harness")
    out = docker_box.exec(["sh", "-c", f"stat -c '%n %a %U' {paths}"]).stdout
    assert out.splitlines() == ["/srv/work 755 agent", "/srv/work/pkg 755 agent", "/srv/work/pkg/mod.py 644 agent",
                                "/srv/work/run.sh 755 agent", "/harness/tools/bin/search 755 agent",
                                "/opt/harness/relay.js 644 root", "/opt/harness 755 root"]
    with pytest.raises(ValueError):
        docker_box.copy_in(tmp_path / "ws" / "run.sh", "/srv/x", files={})


def test_close_twice_and_refuse_reuse(base_image: str, docker_client: Any) -> None:
    box = DockerSandbox(_cfg(base_image), client=docker_client).start()
    cid = box.container_id
    box.close()
    box.close()
    with pytest.raises(SandboxClosed):
        box.exec(["true"])
    assert not docker_client.containers.list(all=True, filters={"id": cid})


def test_missing_image_says_how_to_build(docker_client: Any) -> None:
    with pytest.raises(ImageError) as ei:
        DockerSandbox(_cfg("harness/does-not-exist:nope"), client=docker_client).start()
    assert "harness images build" in ei.value.one_line()
    left = docker_client.containers.list(all=True, filters={"label": f"{labels.RUN_ID}=x"})
    assert left == []


def test_invalid_limits_name_the_field() -> None:
    from controllers.sandbox.config import validated

    with pytest.raises(ConfigError, match=r"limits\.memory"):
        validated(DockerSandboxConfig, {"limits": {"memory": "2 gigs"}})
    with pytest.raises(ConfigError, match=r"limits\.pids"):
        validated(DockerSandboxConfig, {"limits": {"pids": 3}})
    with pytest.raises(ConfigError, match=r"workdir"):
        validated(DockerSandboxConfig, {"workdir": "relative"})


def test_memory_hog_is_killed_and_reported_oom(base_image: str, docker_client: Any) -> None:
    cfg = _cfg(base_image, limits=SandboxLimits(memory="64m"))
    with DockerSandbox(cfg, client=docker_client) as box:
        # tail buffers its whole input line in memory: 300 MB with no newline
        r = box.exec(["sh", "-c", "head -c 300000000 /dev/zero | tail -n 1 >/dev/null"], timeout_sec=60)
        assert r.oom_killed, r
        assert "out of memory" in r.describe()
        assert box.is_running()  # the sandbox survives, only the hog died


def test_fork_bomb_is_held_by_the_pids_limit(base_image: str, docker_client: Any) -> None:
    cfg = _cfg(base_image, limits=SandboxLimits(pids=64))
    with DockerSandbox(cfg, client=docker_client) as box:
        bomb = "bomb() { bomb | bomb & }; bomb"
        box.exec(["bash", "-c", bomb], timeout_sec=5)
        # the host still answers, and so does the container
        assert subprocess.run(["true"], timeout=10).returncode == 0
        assert box.is_running()
        n = box.exec(["sh", "-c", "ls /proc | grep -c '^[0-9]'"], user="root", timeout_sec=20)
        if n.ok:  # may fail to fork while the bomb holds every pid: that is the limit working
            assert int(n.stdout.strip()) <= 64


def test_no_egress_with_network_off(base_image: str, docker_client: Any) -> None:
    """A host listener is reachable from a bridged container but not from a default one."""
    srv = socket.socket()
    srv.bind(("0.0.0.0", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.sendall(b"hello-from-host\n")
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ipam = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gw = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    probe = f"exec 3<>/dev/tcp/{gw}/{port} && head -n1 <&3"
    try:
        with DockerSandbox(_cfg(base_image), client=docker_client) as offline:
            r = offline.exec(["bash", "-c", probe], timeout_sec=10)
            assert not r.ok and "hello-from-host" not in r.stdout
            ifaces = offline.exec(["cat", "/proc/net/dev"]).stdout
            assert [ln.split(":")[0].strip() for ln in ifaces.splitlines()[2:]] == ["lo"]
        with DockerSandbox(_cfg(base_image, network="bridge"), client=docker_client) as online:
            r = online.exec(["bash", "-c", probe], timeout_sec=10)
            assert "hello-from-host" in r.stdout, r  # the probe itself can succeed
    finally:
        stop.set()
        srv.close()
