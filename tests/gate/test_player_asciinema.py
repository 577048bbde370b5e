"""player.html with asciinema-player, as setup installs it, in headless Chromium.

The pages must really play a recording that the harness's own recorder made from a real
tmux pane: the last frame, reached by ``#end`` or by playing the whole cast, shows the same
text as tmux's ``capture_pane`` of that pane; a seek draws the frame of that moment; and
the page fetches nothing (Chromium's net log shows no request). The installer is run for
real against npm (pinned version, integrity checked). The built-in fallback has its own
tests in test_player.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
import test_html_chromium
from chromium_cdp import Browser
from test_html_chromium import need
from test_player import ALT, MAIN, _cast, lines, record

from gate.report import asciinema, render_player, write_player
from gate.report.asciinema import PlayerAssets, find_assets
from harness.errors import GateError

chromium = test_html_chromium.chromium
REPO = Path(__file__).resolve().parents[2]

#: Unicode block elements: asciinema-player paints them on its canvas, not as text
BLOCKS = {chr(c) for c in range(0x2580, 0x25A0)}


@pytest.fixture(scope="session")
def assets() -> PlayerAssets:
    found = find_assets()
    need(found is not None, "asciinema-player is not installed (run scripts/setup.sh)")
    assert found is not None
    return found


class _ApScreen(HTMLParser):
    """The text of each ``span.ap-line`` of asciinema-player's terminal, and body's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[str] = []
        self.body: dict[str, str | None] = {}
        self.players = 0
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "ap-player" in (a.get("class") or "").split():
            self.players += 1
        if tag == "span" and a.get("class") == "ap-line":
            self.rows.append("")
            self._depth = 1
        elif self._depth and tag == "span":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.rows[-1] += data


@contextmanager
def opened(chromium: str, page: Path, query: str = "", *extra: str) -> Iterator[Browser]:
    """The page open in Chromium, its player ready (duration known, terminal drawn)."""
    with Browser(chromium, page.parent, *extra) as browser:
        browser.open(page.as_uri() + query)
        browser.wait_until(
            "window.harnessPlayer && harnessPlayer.getDuration() !== undefined"
            " && document.querySelector('.ap-line') !== null"
        )
        yield browser


def screen_of(html: str) -> _ApScreen:
    screen = _ApScreen()
    screen.feed(html)
    assert screen.players == 1, "no asciinema-player element in the page"
    return screen


AT_END = "document.body.dataset.frame === 'end'"


def no_blocks(text: list[str]) -> list[str]:
    return lines(["".join(" " if ch in BLOCKS else ch for ch in row) for row in text])


@pytest.mark.tmux
@pytest.mark.slow
@pytest.mark.parametrize("name,script", [("main", MAIN), ("alt", ALT)])
def test_last_frame_equals_tmux_capture(
    tmux_bin: str, chromium: str, assets: PlayerAssets, tmp_path: Path, name: str, script: str
) -> None:
    cast = tmp_path / "session.cast"
    expected = record(script, cast)
    page = write_player(cast, assets=assets)
    assert page is not None
    with opened(chromium, page, "#end") as browser:
        got = screen_of(browser.wait_until(AT_END))
        if name == "alt":
            shot = browser.screenshot(tmp_path / "player.png")
    assert got.body.get("data-player") == assets.label
    assert len(got.rows) == 24  # the recorded height, blank rows included
    assert no_blocks(got.rows) == no_blocks(lines(expected))
    text = "\n".join(got.rows)
    if name == "main":
        assert "junk" not in text and "a window title" not in text and "544e" not in text
        assert "├──┤" in text and "café" in text
    else:  # the block elements are drawn on the player's canvas, not as text
        assert "row 39" in text and "inserted" in text
        assert "shell text" not in text  # still on the alternate screen
        width, height, colors = test_html_chromium.png_size_and_colors(shot.read_bytes())
        assert (width, height) == (1100, 700) and colors > 20  # a coloured frame, not blank


@pytest.mark.tmux
@pytest.mark.slow
def test_playing_a_recorded_cast_reaches_its_last_frame(
    tmux_bin: str, chromium: str, assets: PlayerAssets, tmp_path: Path
) -> None:
    """Press play (the player's own button) and let the recording run to its end."""
    cast = tmp_path / "session.cast"
    expected = record(MAIN, cast)
    page = write_player(cast, assets=assets)
    assert page is not None
    with opened(chromium, page) as browser:
        before = screen_of(browser.evaluate("document.documentElement.outerHTML"))
        browser.evaluate("document.querySelector('.ap-playback-button').click()")
        got = screen_of(browser.wait_until(AT_END))
    assert "data-frame" not in before.body and "bold red" not in "".join(before.rows)
    assert no_blocks(got.rows) == no_blocks(lines(expected))


@pytest.mark.slow
def test_seek_draws_the_frame_of_that_moment(
    chromium: str, assets: PlayerAssets, tmp_path: Path
) -> None:
    events = [
        [0.0, "o", "a\r\n"],
        [0.5, "o", "\x1b[1;1Hb"],
        [1.0, "o", "\x1b[2J\x1b[Hdone"],
        [90.0, "o", "!"],  # a long idle gap: shortened to 3 s, as the built-in player does
    ]
    page = write_player(_cast(tmp_path / "s.cast", events), assets=assets)
    assert page is not None
    with opened(chromium, page) as browser:
        for where, rows in ((0.6, ["b"]), (4.0, ["done!"]), (0.2, ["a"])):
            browser.evaluate(
                f"harnessPlayer.seek({where}).then(() => new Promise((ok) =>"
                " requestAnimationFrame(() => requestAnimationFrame(ok))))"
            )
            got = screen_of(browser.evaluate("document.documentElement.outerHTML"))
            now = browser.evaluate("[harnessPlayer.getCurrentTime(), harnessPlayer.getDuration()]")
            assert (lines(got.rows), now) == (rows, [where, 4.0])


def page_requests(netlog: Path) -> set[str]:
    """URLs the page itself asked for, from Chromium's net log (the browser's own background
    requests have no origin as initiator; a file:// page's requests have "null")."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {
        str(e["params"]["url"])
        for e in log["events"]
        if e["type"] == start
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    }


@pytest.mark.slow
def test_page_is_self_contained_and_fetches_nothing(
    chromium: str, assets: PlayerAssets, tmp_path: Path
) -> None:
    cast = _cast(tmp_path / "x.cast", [[0.0, "o", "</script><b>hi</b>\u2028"], [1.5, "o", "!"]])
    html = render_player(cast, title="<t>", assets=assets)
    assert "<t>" not in html and "&lt;t&gt;" in html
    # the cast, the bundle, the start script: nothing else, no <link>, no src=
    assert html.count("</script>") == 3 and "<link" not in html and " src=" not in html
    assert f"player: {assets.label}" in html
    page = tmp_path / "player.html"
    page.write_text(html, encoding="utf-8")
    with opened(chromium, page, "#end", f"--log-net-log={tmp_path / 'net.json'}") as browser:
        got = screen_of(browser.wait_until(AT_END))
    assert lines(got.rows) == ["</script><b>hi</b>\u2028!"]
    assert page_requests(tmp_path / "net.json") == set()
    # the same probe sees a page that does fetch (a closed port on this machine)
    leaky = tmp_path / "leaky.html"
    leaky.write_text(html.replace("</body>", '<img src="http://127.0.0.1:9/x.png"></body>'))
    with opened(chromium, leaky, "", f"--log-net-log={tmp_path / 'leaky.json'}"):
        pass
    assert page_requests(tmp_path / "leaky.json") == {"http://127.0.0.1:9/x.png"}


def test_report_pages_say_which_player_they_use(assets: PlayerAssets, tmp_path: Path) -> None:
    cast = _cast(tmp_path / "s.cast", [[0.0, "o", "hi"]])
    page = write_player(cast)  # "auto": what setup installed
    assert page is not None
    assert f'data-player="{assets.label}"' in page.read_text()
    fallback = write_player(cast, tmp_path / "fallback.html", assets=None)
    assert fallback is not None
    text = fallback.read_text()
    assert 'data-player="built-in"' in text and "asciinema-player is not installed" in text


def test_find_assets_needs_both_files_and_refuses_a_bundle_that_closes_its_element(
    tmp_path: Path,
) -> None:
    folder = tmp_path / asciinema.VERSION
    folder.mkdir()
    (folder / asciinema.JS_FILE).write_text("var AsciinemaPlayer = {};")
    assert find_assets(tmp_path) is None  # no CSS: not installed
    (folder / asciinema.CSS_FILE).write_text(".ap-player{}")
    found = find_assets(tmp_path)
    assert found is not None and found.label == f"asciinema-player {asciinema.VERSION}"
    (folder / asciinema.JS_FILE).write_text("x = '</SCRIPT>';")
    assert find_assets(tmp_path) is None


@pytest.mark.slow
def test_install_fetches_the_pinned_release_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # from npm's own cache, which setup filled: a test sends nothing beyond this machine
    monkeypatch.setenv("npm_config_offline", "true")
    npm = shutil.which("npm")
    need(npm is not None, "npm is not installed (the player then falls back)")
    assert npm is not None
    found, fetched = asciinema.install(tmp_path, npm=npm)
    assert fetched and found.version == asciinema.VERSION
    folder = tmp_path / asciinema.VERSION
    assert sorted(p.name for p in folder.iterdir()) == sorted(asciinema.MEMBERS)
    assert "AsciinemaPlayer" in found.js and ".ap-player" in found.css
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert [p.name for p in tmp_path.iterdir()] == [asciinema.VERSION]  # no staging left
    again, fetched = asciinema.install(tmp_path, npm="/nonexistent/npm")  # npm not asked
    assert not fetched and again == found


@pytest.mark.slow
def test_install_refuses_a_tarball_that_is_not_the_pinned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npm = shutil.which("npm")
    need(npm is not None, "npm is not installed (the player then falls back)")
    assert npm is not None
    monkeypatch.setenv("npm_config_offline", "true")  # npm's cache, filled by setup
    monkeypatch.setattr(asciinema, "INTEGRITY", "sha512-" + "A" * 86 + "==")
    with pytest.raises(GateError, match="does not match the pinned integrity"):
        asciinema.install(tmp_path, npm=npm)
    assert list(tmp_path.iterdir()) == []  # nothing half-installed


def test_setup_step_without_npm_says_so_in_one_line_and_fails_softly(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no npm on PATH
    proc = subprocess.run(
        [sys.executable, "-m", "gate.report.install_player", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 1
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and "npm was not found" in out[0] and "fallback" in out[0], proc
    assert not (tmp_path / "cache" / asciinema.VERSION).exists()
    setup = (REPO / "scripts/setup.sh").read_text()
    assert "python -m gate.report.install_player 2>&1 || true" in setup  # never fatal


@pytest.mark.slow
def test_setup_step_with_an_unreachable_registry_says_so_in_one_line(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    need(npm is not None, "npm is not installed (the player then falls back)")
    # a closed port on this machine as the registry, and a fresh npm cache: nothing to reuse
    env = {
        **os.environ,
        "npm_config_registry": "http://127.0.0.1:9/",
        "npm_config_cache": str(tmp_path / "npm-cache"),
        "npm_config_fetch_retries": "0",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "gate.report.install_player", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 1
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and "ECONNREFUSED" in out[0] and "fallback" in out[0], proc
    assert list((tmp_path / "cache").iterdir()) == []  # no staging folder left behind
