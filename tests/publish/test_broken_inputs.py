"""Bad input to the build: every case in tests/data/broken/ fails cleanly and changes nothing.

Each case is a folder with `case.yaml` (what is broken and the error expected) and an overlay on a
copy of the real inputs, laid out like the project (`data/`, `ontology/`, `shapes/`):
    path          a file added, or replacing the real one
    path.append   bytes appended to the real file
    path.delete   the real file removed
The expected error names a file (relative to the inputs) and a line, given as a number (`line`) or as
the first line of the overlaid file containing a text (`line_of`), so the cases survive edits to the
real data; neither, for a problem with the whole file (a missing one).

For each case, `treatygraph build` runs as a subprocess and must exit 1 with `file:line` and the
message, no traceback, no new release, no staging folder, `current` unchanged; the app opened on the
last good build keeps answering; and once the overlays are removed, a fresh build succeeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_support import seed_with
from ruamel.yaml import YAML

from treatygraph.core.config import PROJECT_ROOT, Config
from treatygraph.publish.build import build, current_release, input_digest

BROKEN = Path(__file__).parents[1] / "data" / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if (p / "case.yaml").is_file())
INPUT_FOLDERS = ("data", "ontology", "shapes")
KNOWN_ENTITY = "https://w3id.org/treatygraph/id/organization/csto"


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    description: str
    file: str
    line: int | None
    line_of: str | None
    message: str
    exit_code: int

    @classmethod
    def load(cls, name: str) -> Case:
        folder = BROKEN / name
        spec = YAML(typ="safe").load((folder / "case.yaml").read_text(encoding="utf-8"))
        expect = spec["expect"]
        return cls(
            name=name,
            folder=folder,
            description=spec["description"],
            file=expect["file"],
            line=expect.get("line"),
            line_of=expect.get("line_of"),
            message=expect["message"],
            exit_code=expect.get("exit", 1),
        )

    def overlay_files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and p.name != "case.yaml")

    def expected_where(self, root: Path) -> str:
        """`path:line`, or `path: ` for a problem with the whole file (it is missing)."""
        if self.line is None and self.line_of is None:
            return f"{root / self.file}: "
        return f"{root / self.file}:{self.expected_line(root)}"

    def expected_line(self, root: Path) -> int:
        if self.line is not None:
            return self.line
        data = (root / self.file).read_bytes().decode("utf-8", errors="replace")
        for number, text in enumerate(data.splitlines(), start=1):
            if self.line_of in text:
                return number
        raise AssertionError(f"{self.name}: no line of {self.file} contains {self.line_of!r}")


def inputs_root(config: Config) -> Path:
    return config.data_dir.parent


def apply_overlay(case: Case, root: Path) -> dict[Path, bytes | None]:
    """Apply a case's overlay; return what each touched file held before (None: did not exist)."""
    before: dict[Path, bytes | None] = {}
    for source in case.overlay_files():
        relative = source.relative_to(case.folder)
        assert relative.parts[0] in INPUT_FOLDERS, f"{case.name}: {relative} is not an input"
        suffix = source.suffix if source.suffix in (".append", ".delete") else ""
        target = root / (str(relative)[: -len(suffix)] if suffix else relative)
        before[target] = target.read_bytes() if target.exists() else None
        if suffix == ".append":
            target.write_bytes(target.read_bytes() + source.read_bytes())
        elif suffix == ".delete":
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return before


def undo_overlay(before: dict[Path, bytes | None]) -> None:
    for target, content in before.items():
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(content)


def run_build_cli(config: Config) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TREATYGRAPH_DATA_DIR": str(config.data_dir),
        "TREATYGRAPH_ONTOLOGY_DIR": str(config.ontology_dir),
        "TREATYGRAPH_SHAPES_DIR": str(config.shapes_dir),
        "TREATYGRAPH_BUILD_DIR": str(config.build_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "treatygraph", "build"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def build_folder_state(config: Config) -> tuple[str, list[str]]:
    """What a failed build must not change: where `current` points and every entry of releases/."""
    releases = config.build_dir / "releases"
    return os.readlink(config.current_build), sorted(p.name for p in releases.iterdir())


@pytest.fixture(scope="module")
def world(tmp_path_factory, config, built):
    """One copy of the real inputs, a good build (the session's), the app serving it, and the
    digest of the inputs as copied, which every case must leave as it found it."""
    from server.app import create_app
    from server.sparql import shutdown

    root = tmp_path_factory.mktemp("broken-inputs")
    for name in INPUT_FOLDERS:
        shutil.copytree(PROJECT_ROOT / name, root / name)
    inputs = Config.from_env(
        data_dir=root / "data",
        ontology_dir=root / "ontology",
        shapes_dir=root / "shapes",
        build_dir=root / "build",
    )
    seed_with(config, inputs)
    app = create_app(inputs)
    app.config["TESTING"] = True
    yield inputs, input_digest(inputs), app
    shutdown(app)


def test_the_corpus_covers_the_issue():
    required = {
        "malformed-yaml",
        "unknown-source-id",
        "quote-not-in-source",
        "impossible-date",
        "end-before-start",
        "duplicate-iri",
        "broken-ontology-turtle",
        "broken-shapes-turtle",
        "non-utf8-source",
        "unknown-field",
        "unknown-type",
        "missing-ref",
        "changed-source",
        "wikidata-link-wrong-shape",
    }
    assert required <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_broken_input_fails_cleanly_and_changes_nothing(world, name):
    config, pristine, app = world
    case = Case.load(name)
    root = inputs_root(config)
    client = app.test_client()
    before_state = build_folder_state(config)
    served_before = client.get("/healthz").get_json()

    before = apply_overlay(case, root)
    try:
        expected_where = case.expected_where(root)
        result = run_build_cli(config)
    finally:
        undo_overlay(before)

    output = result.stdout + result.stderr
    assert result.returncode == case.exit_code, output
    assert "Traceback" not in output, output
    assert expected_where in result.stderr, (
        f"{case.description}: expected {expected_where}\n{output}"
    )
    assert case.message in result.stderr, f"{case.description}: expected {case.message!r}\n{output}"
    assert build_folder_state(config) == before_state, "a failed build changed the build folder"
    assert not list((config.build_dir / "releases").glob(".staging-*"))

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == served_before
    answer = client.get("/sparql", query_string={"query": f"ASK {{ <{KNOWN_ENTITY}> ?p ?o }}"})
    assert answer.status_code == 200
    assert answer.get_json()["boolean"] is True

    assert input_digest(config) == pristine, "the overlay was not undone exactly"


def test_a_fresh_build_after_the_fixes_succeeds(world):
    """Every case restored the inputs exactly (checked by digest), so one fresh build stands for all."""
    config, pristine, app = world
    before = current_release(config)
    fixed = build(config)
    assert fixed.input_digest == pristine
    assert current_release(config) != before
    assert not list((config.build_dir / "releases").glob(".staging-*"))
    health = app.test_client().get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["built_at"] == fixed.built_at
