"""The Slack app manifest (``manifest.yml`` beside this file) is the one list of what the
app asks Slack for: OAuth installs request exactly its bot scopes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

MANIFEST_FILE = Path(__file__).with_name("manifest.yml")


@cache
def manifest() -> dict:
    # Imported here: only an OAuth app reads the manifest (its scopes), once at start.
    import yaml

    return yaml.safe_load(MANIFEST_FILE.read_text(encoding="utf-8"))


def bot_scopes() -> list[str]:
    return list(manifest()["oauth_config"]["scopes"]["bot"])
