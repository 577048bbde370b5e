"""Harvest: turn a user's past claude and codex sessions into redacted digests.

``harness harvest`` reads the CLIs' own session files (:mod:`.claude`, :mod:`.codex`),
finds the commit each session started from without touching the repository
(:mod:`.repo`), redacts secrets (:mod:`.redact`) and keeps one :class:`.digest.Digest`
per session in the store (:mod:`.store`), incrementally. Mining and replay build on the
digests.
"""

from harness.harvest.digest import Digest, HarvestReport
from harness.harvest.run import HarvestOptions, harvest, parse_since
from harness.harvest.store import HarvestStore

__all__ = ["Digest", "HarvestOptions", "HarvestReport", "HarvestStore", "harvest", "parse_since"]
