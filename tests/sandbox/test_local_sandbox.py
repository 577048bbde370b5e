"""LocalSandbox specifics: it owns (and removes) its temp dir; closed means closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from controllers.sandbox import LocalSandbox
from harness.errors import SandboxClosed


def test_owned_dir_removed_and_reuse_refused() -> None:
    box = LocalSandbox()
    d = Path(box.workdir)
    box.write_file("f", "x")
    box.close()
    box.close()  # safe twice
    assert not d.exists()
    with pytest.raises(SandboxClosed):
        box.exec(["true"])


def test_given_dir_is_kept(tmp_path: Path) -> None:
    with LocalSandbox(tmp_path) as box:
        box.write_file("f", "x")
    assert (tmp_path / "f").read_text() == "x"
