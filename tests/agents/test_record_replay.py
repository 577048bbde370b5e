"""Record then replay on the real CLIs, and the real key's confinement.

The recording Gateway forwards to an upstream that is a second, scripted Gateway playing the
vendor; the "real key" is the vendor's key, held only by the recording Gateway's Upstream.
While the CLI runs against the recorder, the key must not show in ``docker inspect``, in any
process environment in the container, or anywhere in its filesystem. Replaying the cassette
then yields the same tool calls and final answer."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_rig import AGENTS, Rig, make_rig, policy_of

from controllers.profiles import parse_transcript
from harness import episode
from harness.gateway import Gateway
from harness.gateway.upstream import Upstream

pytestmark = [pytest.mark.agents, pytest.mark.docker, pytest.mark.slow]

VENDOR_POLICY = {
    "version": 1,
    "title": "Vendor title",
    "rules": [
        {"name": "write", "match": {"user": "ledger", "step": 0},
         "reply": {"text": "Writing the ledger.",
                   "calls": [{"shell": "printf 'line one\\n' > ledger.txt", "description": "write ledger"}]}},
        {"name": "done", "match": {"tool_result": ""}, "reply": {"text": "The ledger holds one line."}},
    ],
    "default": {"text": "vendor has nothing for that"},
}
PROMPT = "please start the ledger file"


@pytest.fixture(params=AGENTS)
def vendor(request: pytest.FixtureRequest) -> Iterator[tuple[str, Gateway, str]]:
    gw = Gateway("scripted", policy=policy_of(VENDOR_POLICY)).start()
    try:
        real_key = gw.register_trial("vendor-account").key
        yield request.param, gw, real_key
    finally:
        gw.close()


def _episode(rig: Rig, tmp: Path, name: str) -> episode.Episode:
    spec = rig.profile.spec
    ok = rig.box.exec(["sh", "-c", f"ls -t {spec.transcript_glob} 2>/dev/null | head -n 1"])
    path = ok.stdout.strip()
    assert path, f"no {rig.agent} session file under {spec.transcript_glob}"
    local = tmp / f"{name}.jsonl"
    local.write_bytes(rig.box.read_file(path))
    return parse_transcript(rig.agent, local)


def _calls(ep: episode.Episode) -> list[tuple[str, str]]:
    return [(c.name, json.dumps(c.input, sort_keys=True)) for c in ep.tool_calls]


def _assert_key_absent(rig: Rig, real_key: str, dummy_key: str) -> None:
    inspected = json.dumps(rig.client.api.inspect_container(rig.box.container_id))
    assert real_key not in inspected, "the real key is in docker inspect"
    # without CAP_SYS_PTRACE each user can only read its own processes' environ: scan as both
    scan = "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>/dev/null; true"
    envs = "".join(rig.box.exec(["sh", "-c", scan], user=u).stdout for u in ("agent", "root"))
    assert dummy_key in envs, "the env scan did not see the CLI's own environment"
    assert real_key not in envs, "the real key is in a process environment in the container"
    # the pattern comes on stdin, so the key never sits in this grep's argv inside the box
    marker = rig.box.exec(["sh", "-c", "mkdir -p /tmp/probe && echo grep-probe-7c1 > /tmp/probe/p"])
    assert marker.ok
    grep = ["grep", "-rlF", "-f", "/dev/stdin", "/", "--exclude-dir=proc", "--exclude-dir=sys",
            "--exclude-dir=dev"]
    probe = rig.box.exec(grep, user="root", input=b"grep-probe-7c1\n", timeout_sec=300)
    assert "/tmp/probe/p" in probe.stdout, f"the filesystem scan does not work: {probe.stderr[-300:]}"
    found = rig.box.exec(grep, user="root", input=real_key.encode() + b"\n", timeout_sec=300)
    assert found.exit_code == 1 and not found.stdout.strip(), f"real key found in files: {found.stdout[:500]}"


def test_record_then_replay(vendor: tuple[str, Gateway, str], docker_client: Any,
                            agent_images: dict[str, str], tmp_path: Path) -> None:
    agent, vendor_gw, real_key = vendor
    upstream = Upstream.from_env({"HARNESS_UPSTREAM_ANTHROPIC_URL": vendor_gw.url,
                                  "HARNESS_UPSTREAM_OPENAI_URL": vendor_gw.url,
                                  "HARNESS_UPSTREAM_GEMINI_URL": vendor_gw.url,
                                  "ANTHROPIC_API_KEY": real_key, "OPENAI_API_KEY": real_key,
                                  "GEMINI_API_KEY": real_key})
    cassette = tmp_path / "cassette.jsonl"
    rigs: list[Rig] = []
    gateways: list[Gateway] = []
    try:
        rec = Gateway("record", cassette=cassette, upstream=upstream).start()
        gateways.append(rec)
        rig = make_rig(agent, agent_images[agent], docker_client, rec)
        rigs.append(rig)
        s = rig.session({}, name="record")
        out = s.driver.run_turn(PROMPT, timeout_sec=120)
        assert out.how in ("signal", "screen"), f"{out.how}\n{out.screen}"
        _assert_key_absent(rig, real_key, s.key)
        recorded = _episode(rig, tmp_path, "recorded")
        assert vendor_gw.exchanges("vendor-account"), "the recorder never reached the vendor"
        rec.close()
        assert cassette.stat().st_size > 0
        assert real_key not in cassette.read_text(), "the real key was written to the cassette"

        rep = Gateway("replay", cassette=cassette).start()
        gateways.append(rep)
        rig2 = make_rig(agent, agent_images[agent], docker_client, rep)
        rigs.append(rig2)
        s2 = rig2.session({}, name="replay")
        out2 = s2.driver.run_turn(PROMPT, timeout_sec=120)
        assert out2.how in ("signal", "screen"), f"{out2.how}\n{out2.screen}"
        replayed = _episode(rig2, tmp_path, "replayed")
        assert s2.file_text("ledger.txt") == "line one\n", "the replayed tool call did not run"
        misses = [x for x in s2.exchanges() if x.rule == "replay-miss"]
        assert not misses, [x.note for x in misses]
    finally:
        for r in rigs:
            r.close_sessions()
            with contextlib.suppress(Exception):  # never hide the test's own failure
                r.warm.close()
        for g in gateways:
            g.close()
    assert _calls(recorded) and _calls(recorded) == _calls(replayed)
    assert recorded.final_answer == replayed.final_answer
    # aider too: the harness's continue message brings it the command's output in the turn
    assert recorded.final_answer == "The ledger holds one line."
