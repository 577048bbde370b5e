"""player.html: one asciicast v2 recording as a standalone page that plays it back.

report.html must open from a CI artifact or a mail attachment, so each player page carries
its player's JS and CSS and the cast's events in one file, and fetches nothing. The player
is asciinema-player (``asciinema.py``: pinned, fetched by setup with npm, inlined here, about
250 kB a page); when setup could not fetch it, the built-in player.js (a small VT emulator)
stands in, and the page says which one it uses. ``player.html#end`` (or ``?end``) draws the
final frame at once, which is what a reader usually wants and what the Chromium tests check.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Literal

from gate.report.asciinema import PlayerAssets, find_assets

PLAYER_NAME = "player.html"
_JS = Path(__file__).with_name("player.js")
_START_JS = Path(__file__).with_name("asciinema_start.js")
FALLBACK_LABEL = "built-in player (asciinema-player is not installed: run scripts/setup.sh)"

PAGE_CSS = """
body{font:13px system-ui,sans-serif;margin:16px;background:#f5f5f5;color:#222}
h1{font-size:15px;margin:0 0 8px}#player{max-width:1200px}
.which{color:#888;margin-top:6px}
body[data-frame=end] .ap-overlay-start{display:none}
"""

CSS = """
:root{--fg:#d4d4d4;--bg:#1e1e1e}
body{font:13px system-ui,sans-serif;margin:16px;background:#f5f5f5;color:#222}
h1{font-size:15px;margin:0 0 8px}
#bar{display:flex;gap:8px;align-items:center;margin:8px 0}#seek{flex:1}
#screen{display:inline-block;background:var(--bg);color:var(--fg);padding:6px;margin:0;
 font:13px/1.25 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;white-space:pre}
.row{height:1.25em}
.w{display:inline-block;width:2ch}
.cur{outline:1px solid var(--fg);outline-offset:-1px}
#clock{font-variant-numeric:tabular-nums;min-width:9em}
.which{color:#888;margin-top:6px}
"""


def read_events(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """The header and the ``[time, code, data]`` events of a cast file. Raises ValueError
    (json's decode error included) when the file is not asciicast v2."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = json.loads(lines[0]) if lines else None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise ValueError(f"{path}: not an asciicast v2 file")
    events: list[list[Any]] = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        ev = json.loads(line)
        if not (isinstance(ev, list) and len(ev) == 3 and isinstance(ev[0], (int, float))):
            raise ValueError(f"{path}:{n}: bad event")
        events.append([float(ev[0]), str(ev[1]), str(ev[2])])
    return header, events


def _script_json(value: object) -> str:
    """JSON safe inside <script>: only "</" can end the element early; "<" escaped stops that."""
    data = json.dumps(value, ensure_ascii=False)
    return data.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_player(
    cast: Path, *, title: str = "", assets: PlayerAssets | None | Literal["auto"] = "auto"
) -> str:
    """The player page for one cast file: asciinema-player when its assets are installed
    (``"auto"`` looks for them), the built-in player otherwise. Raises ValueError for a
    malformed cast."""
    header, events = read_events(cast)
    head = {"width": int(header.get("width") or 80), "height": int(header.get("height") or 24)}
    name = escape(title or str(header.get("title") or cast.name))
    found = find_assets() if assets == "auto" else assets
    if found is None:
        return _fallback_page(name, head, events)
    which = escape(found.label)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{which}"><title>{name}</title>'
        f"<style>{found.css}</style><style>{PAGE_CSS}</style></head>"
        f'<body data-player="{which}">'
        f"<h1>{name} <small>{head['width']}×{head['height']}, {len(events)} events</small></h1>"
        '<div id="player"></div>'
        f'<p class="which">player: {which}</p>'
        f'<script type="application/json" id="cast">'
        f"{_script_json([{'version': 2, **head}, *events])}</script>"
        f"<script>{found.js}</script>"
        f"<script>{_START_JS.read_text(encoding='utf-8')}</script></body></html>\n"
    )


def _fallback_page(name: str, head: dict[str, int], events: list[list[Any]]) -> str:
    """The built-in player's page: player.js inlined, the cast as ``{header, events}``."""
    data = _script_json({"header": head, "events": events})
    speeds = "".join(
        f'<option value="{s}"{" selected" if s == 1 else ""}>{s}×</option>'
        for s in (0.5, 1, 2, 4, 8, 16)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="harness player.js">'
        f"<title>{name}</title><style>{CSS}</style></head>"
        '<body data-player="built-in">'
        f"<h1>{name} <small>{head['width']}×{head['height']}, {len(events)} events</small></h1>"
        '<div id="bar"><button id="play" type="button">play</button>'
        f'<select id="speed" aria-label="speed">{speeds}</select>'
        '<input id="seek" type="range" min="0" step="0.01" value="0" aria-label="seek">'
        '<span id="clock"></span><button id="end" type="button">jump to end</button></div>'
        '<pre id="screen"></pre>'
        f'<p class="which">player: {escape(FALLBACK_LABEL)}</p>'
        f'<script type="application/json" id="cast">{data}</script>'
        f"<script>{_JS.read_text(encoding='utf-8')}</script></body></html>\n"
    )


def write_player(
    cast: Path,
    out: Path | None = None,
    *,
    title: str = "",
    assets: PlayerAssets | None | Literal["auto"] = "auto",
) -> Path | None:
    """Write the player next to ``cast`` (or to ``out``); None when the cast is unreadable,
    so one bad recording costs its own player and not the whole report."""
    target = out or cast.with_name(PLAYER_NAME)
    try:
        page = render_player(cast, title=title, assets=assets)
    except (OSError, ValueError):
        target.unlink(missing_ok=True)  # a player left from an earlier report would mislead
        return None
    target.write_text(page, encoding="utf-8")
    return target
