"""A mined task's oracle: the session's own edits, redone in order at its start commit.

Why replay the edits rather than store a ``git diff``: the digest keeps each edit as the
tool made it (a whole-file write, a string replacement, an ``apply_patch`` envelope, a shell
command such as ``sed -i``), not the resulting diff, and working a shell command's effect
out on the host would mean running the session's commands on the user's machine. Redone in
the sandbox, the edits give the session's final diff; the oracle is that diff applied.
Failed writes, replacements and patches changed nothing and are skipped; shell commands run
whatever their exit code was (``sed -i x && pytest`` edits, then fails). An edit cut short
in the digest (``truncated``) means no faithful oracle: None, with the reason.
"""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

from harness.harvest.digest import Digest

HEADER = "#!/usr/bin/env bash\n# mined oracle: the session's edits, redone in order\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _replace_py(path: str, old: str, new: str, replace_all: bool) -> str:
    return (
        "python3 -c 'import base64,sys\n"
        "p,o,n,a=sys.argv[1],*(base64.b64decode(x).decode() for x in sys.argv[2:4]),sys.argv[4]\n"
        "s=open(p,encoding=\"utf-8\").read()\n"
        "if o not in s: sys.exit(\"oracle: text to replace not found in \"+p)\n"
        "open(p,\"w\",encoding=\"utf-8\").write(s.replace(o,n) if a==\"1\" else s.replace(o,n,1))' "
        f"{shlex.quote(path)} {_b64(old)} {_b64(new)} {'1' if replace_all else '0'}\n"
    )


def oracle_script(d: Digest, workdir: str, prefix: str) -> tuple[str | None, str]:
    """(bash script, note): the session's edits as a script run from the workspace top;
    host paths of the session's cwd become ``workdir`` (+ ``prefix``)."""
    cwd_in_box = f"{workdir}/{prefix}" if prefix else workdir
    edits = [e for e in d.edits if e.op == "shell" or not e.is_error]
    if not edits:
        return None, "no edits to redo"
    if any(e.truncated for e in edits):
        return None, "an edit was cut short in the digest (too long to redo)"
    lines = [HEADER, f"cd {shlex.quote(cwd_in_box)} || exit 1\n"]
    patcher = Path(__file__).with_name("apply_patch.py").read_text()
    for e in edits:
        path = e.path
        if path.startswith("/"):
            if d.cwd and path.startswith(d.cwd.rstrip("/") + "/"):
                path = path[len(d.cwd.rstrip("/")) + 1:]
            else:
                return None, f"an edit wrote outside the session's folder ({path})"
        if e.op == "write":
            parent = str(Path(path).parent)
            if parent != ".":
                lines.append(f"mkdir -p {shlex.quote(parent)}\n")
            lines.append(f"echo {_b64(e.content or '')} | base64 -d > {shlex.quote(path)}\n")
        elif e.op == "replace":
            lines.append(_replace_py(path, e.old or "", e.new or "", e.replace_all))
        elif e.op == "patch":
            patch = (e.patch or "").replace(d.cwd.rstrip("/") + "/", "") if d.cwd else e.patch
            lines.append(
                f"echo {_b64(patch or '')} | base64 -d > /tmp/mined.patch && "
                f"python3 -c \"$(echo {_b64(patcher)} | base64 -d)\" < /tmp/mined.patch\n"
            )
        elif e.op == "shell" and e.cmd:
            cmd = e.cmd.replace(d.cwd.rstrip("/"), cwd_in_box) if d.cwd else e.cmd
            lines.append(f"( {cmd}\n) >/dev/null 2>&1 || true\n")
    lines.append("exit 0\n")
    return "".join(lines), f"{len(edits)} edit(s) from {d.id}"
