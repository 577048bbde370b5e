"""Apply one ``apply_patch`` envelope (codex's edit format) to the current directory.

Why a standalone script: a mined task's oracle runs in the sandbox, which has python3 but
not codex's own ``apply_patch``; the oracle embeds this file's text and feeds it each patch
the session applied. Standard library only. Usage: ``python3 apply_patch.py < PATCH``.
"""

from __future__ import annotations

import os
import sys


def _hunks(lines: list[str]) -> list[tuple[list[str], list[str]]]:
    """(old lines, new lines) per ``@@`` hunk of one Update File section."""
    out: list[tuple[list[str], list[str]]] = []
    old: list[str] = []
    new: list[str] = []
    for ln in lines:
        if ln.startswith("@@"):
            if old or new:
                out.append((old, new))
            old, new = [], []
        elif ln.startswith("*** End of File"):
            continue
        elif ln.startswith("-"):
            old.append(ln[1:])
        elif ln.startswith("+"):
            new.append(ln[1:])
        else:
            text = ln.removeprefix(" ")
            old.append(text)
            new.append(text)
    if old or new:
        out.append((old, new))
    return out


def _update(path: str, body: list[str], move_to: str | None) -> None:
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    at = 0
    for old, new in _hunks(body):
        for i in range(at, len(lines) - len(old) + 1):
            if lines[i:i + len(old)] == old:
                lines[i:i + len(old)] = new
                at = i + len(new)
                break
        else:
            sys.exit(f"apply_patch: hunk not found in {path}: {old[:2]!r}")
    dest = move_to or path
    if os.path.dirname(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    if move_to and move_to != path:
        os.remove(path)


def apply(text: str) -> None:
    """Every Add / Delete / Update File section of the envelope, in order."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        ln = lines[i]
        i += 1
        for kind in ("Add", "Delete", "Update"):
            tag = f"*** {kind} File: "
            if not ln.startswith(tag):
                continue
            path = ln[len(tag):].strip()
            body: list[str] = []
            move_to = None
            while i < len(lines) and not lines[i].startswith(
                ("*** Add File: ", "*** Delete File: ", "*** Update File: ", "*** End Patch")
            ):
                if lines[i].startswith("*** Move to: "):
                    move_to = lines[i][len("*** Move to: "):].strip()
                else:
                    body.append(lines[i])
                i += 1
            if kind == "Add":
                if os.path.dirname(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write("\n".join(b[1:] for b in body if b.startswith("+")) + "\n")
            elif kind == "Delete":
                if os.path.exists(path):
                    os.remove(path)
            else:
                _update(path, body, move_to)


if __name__ == "__main__":
    apply(sys.stdin.read())
