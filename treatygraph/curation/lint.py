"""Data lint: curated files must be in canonical form, so diffs stay small and reviews easy."""

from __future__ import annotations

from pathlib import Path

from treatygraph.core.config import Config
from treatygraph.core.files import read_text

from .facts import fact_files
from .links import check_canonical_links, links_path
from .yamlio import canonical_text


def curated_files(config: Config) -> list[Path]:
    return [config.sources_dir / "sources.yaml", *fact_files(config.facts_dir)]


def check_canonical(config: Config, fix: bool = False) -> list[Path]:
    """The curated files that are not sorted and dumped canonically; rewrite them if `fix`."""
    changed = []
    links = links_path(config.data_dir)
    if check_canonical_links(links, fix=fix):
        changed.append(links)
    for path in curated_files(config):
        expected = canonical_text(path)
        if read_text(path) != expected:
            changed.append(path)
            if fix:
                path.write_text(expected, encoding="utf-8")
    return changed
