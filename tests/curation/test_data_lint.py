"""Curated files stay canonical (sorted by id, one style), so every diff is a real change."""

from treatygraph.core.config import Config
from treatygraph.curation.lint import check_canonical, curated_files


def test_curated_files_are_canonical():
    changed = check_canonical(Config.from_env())
    assert not changed, (
        "not in canonical form: "
        + ", ".join(str(p) for p in changed)
        + "; run `treatygraph lint-data --fix`"
    )


def test_lint_fix_sorts_records(inputs_copy):
    path = inputs_copy.facts_dir / "organizations.yaml"
    text = path.read_text()
    parts = text.split("\n- id: ")
    parts[1], parts[2] = parts[2], parts[1]
    path.write_text("\n- id: ".join(parts))
    assert check_canonical(inputs_copy) == [path]
    check_canonical(inputs_copy, fix=True)
    assert check_canonical(inputs_copy) == []
    assert path.read_text() == text


def test_every_curated_file_is_listed():
    names = {p.name for p in curated_files(Config.from_env())}
    assert "sources.yaml" in names
