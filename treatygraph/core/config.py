"""Configuration from environment variables, with the defaults documented in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CANONICAL_BASE_IRI = "https://w3id.org/treatygraph"
WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).resolve() if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not a number") from None


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not a whole number") from None


def _env_size(name: str, default: int) -> int:
    """A size (0 or more) from the environment."""
    size = _env_int(name, default)
    if size < 0:
        raise ValueError(f"environment variable {name}={size} must be 0 or more")
    return size


def _env_mapping(name: str, value: str) -> dict[str, str]:
    """`key=value` pairs separated by whitespace, e.g. `SERVICE IRI=mirror URL`."""
    pairs = {}
    for item in value.split():
        key, sep, target = item.partition("=")
        if not sep or not key or not target:
            raise ValueError(f"environment variable {name}: {item!r} is not of the form IRI=URL")
        pairs[key] = target
    return pairs


BUILD_PAUSE_STEPS = ("store", "dumps")


def _env_pause(name: str) -> tuple[str, float] | None:
    """`step=seconds`: where a build sleeps, so that a test can kill it there."""
    value = os.environ.get(name)
    if not value:
        return None
    step, _, seconds = value.partition("=")
    try:
        if step in BUILD_PAUSE_STEPS:
            return step, float(seconds)
    except ValueError:
        pass
    raise ValueError(
        f"environment variable {name}={value!r} is not STEP=SECONDS with STEP one of "
        f"{', '.join(BUILD_PAUSE_STEPS)}"
    )


@dataclass(frozen=True)
class Config:
    """Everything the pipeline and the server need to know about where things are."""

    project_root: Path = PROJECT_ROOT
    data_dir: Path = PROJECT_ROOT / "data"
    ontology_dir: Path = PROJECT_ROOT / "ontology"
    shapes_dir: Path = PROJECT_ROOT / "shapes"
    queries_dir: Path = PROJECT_ROOT / "queries"
    build_dir: Path = PROJECT_ROOT / "build"
    base_iri: str = CANONICAL_BASE_IRI
    query_timeout: float = 30.0
    federation_timeout: float = 20.0
    max_result_rows: int = 100_000
    max_request_bytes: int = 1_000_000
    max_concurrent_queries_per_client: int = 4
    service_allowlist: tuple[str, ...] = (WIKIDATA_SPARQL,)
    service_mirrors: dict[str, str] = field(default_factory=dict)
    query_workers: int = 3
    # Workers one client may hold at once; None: all but one, so no client can take every worker.
    client_query_workers: int | None = None
    client_query_seconds: float = 60.0  # worker time a client may use per window
    client_query_window: float = 60.0
    web_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    query_broker: str | None = None  # the broker's socket, when several web processes share it
    proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-* headers are trusted
    query_memory_mb: int = 2048
    answer_cache_mb: int = 64  # SPARQL answers of the current release kept in memory; 0: none
    answer_cache_entry_kb: int = 256  # a larger answer is not kept (it may still be revalidated)
    page_cache_mb: int = 256  # pages and RDF documents of the current release; 0: none
    wikidata_endpoint: str = WIKIDATA_SPARQL
    build_pause: tuple[str, float] | None = None  # fault injection: (step, seconds); see README
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> Config:
        """Read the TREATYGRAPH_* environment variables; keyword overrides win."""
        default = cls()
        values = dict(
            data_dir=_env_path("TREATYGRAPH_DATA_DIR", default.data_dir),
            ontology_dir=_env_path("TREATYGRAPH_ONTOLOGY_DIR", default.ontology_dir),
            shapes_dir=_env_path("TREATYGRAPH_SHAPES_DIR", default.shapes_dir),
            build_dir=_env_path("TREATYGRAPH_BUILD_DIR", default.build_dir),
            base_iri=os.environ.get("TREATYGRAPH_BASE_IRI", default.base_iri).rstrip("/"),
            query_timeout=_env_float("TREATYGRAPH_QUERY_TIMEOUT", default.query_timeout),
            federation_timeout=_env_float(
                "TREATYGRAPH_FEDERATION_TIMEOUT", default.federation_timeout
            ),
            max_result_rows=_env_int("TREATYGRAPH_MAX_RESULT_ROWS", default.max_result_rows),
            max_request_bytes=_env_int("TREATYGRAPH_MAX_REQUEST_BYTES", default.max_request_bytes),
            max_concurrent_queries_per_client=_env_int(
                "TREATYGRAPH_MAX_CONCURRENT_QUERIES", default.max_concurrent_queries_per_client
            ),
            wikidata_endpoint=os.environ.get(
                "TREATYGRAPH_WIKIDATA_ENDPOINT", default.wikidata_endpoint
            ),
        )
        values["query_workers"] = _env_int("TREATYGRAPH_QUERY_WORKERS", default.query_workers)
        if os.environ.get("TREATYGRAPH_CLIENT_QUERY_WORKERS"):
            values["client_query_workers"] = _env_int("TREATYGRAPH_CLIENT_QUERY_WORKERS", 0)
        values["client_query_seconds"] = _env_float(
            "TREATYGRAPH_CLIENT_QUERY_SECONDS", default.client_query_seconds
        )
        values["client_query_window"] = _env_float(
            "TREATYGRAPH_CLIENT_QUERY_WINDOW", default.client_query_window
        )
        values["web_workers"] = _env_int("TREATYGRAPH_WEB_WORKERS", default.web_workers)
        values["query_broker"] = os.environ.get("TREATYGRAPH_QUERY_BROKER") or None
        values["proxy_hops"] = _env_int("TREATYGRAPH_PROXY_HOPS", default.proxy_hops)
        values["query_memory_mb"] = _env_int("TREATYGRAPH_QUERY_MEMORY_MB", default.query_memory_mb)
        values["answer_cache_mb"] = _env_size(
            "TREATYGRAPH_ANSWER_CACHE_MB", default.answer_cache_mb
        )
        values["answer_cache_entry_kb"] = _env_size(
            "TREATYGRAPH_ANSWER_CACHE_ENTRY_KB", default.answer_cache_entry_kb
        )
        values["page_cache_mb"] = _env_size("TREATYGRAPH_PAGE_CACHE_MB", default.page_cache_mb)
        values["build_pause"] = _env_pause("TREATYGRAPH_BUILD_PAUSE")
        mirrors = os.environ.get("TREATYGRAPH_SERVICE_MIRRORS")
        if mirrors:
            values["service_mirrors"] = _env_mapping("TREATYGRAPH_SERVICE_MIRRORS", mirrors)
        allowlist = os.environ.get("TREATYGRAPH_SERVICE_ALLOWLIST")
        if allowlist is not None:
            values["service_allowlist"] = tuple(s for s in allowlist.split() if s)
        values.update(overrides)
        return cls(**values)

    @property
    def client_workers(self) -> int:
        """Query workers one client may hold at once."""
        if self.client_query_workers is None:
            return max(1, self.query_workers - 1)
        return self.client_query_workers

    def check_query_limits(self) -> None:
        """`ValueError` naming the settings when they would let one client take every worker."""
        if self.query_workers < 2:
            raise ValueError(
                f"TREATYGRAPH_QUERY_WORKERS={self.query_workers}: at least 2 query workers are "
                "needed, so that one client can never hold them all"
            )
        if not 1 <= self.client_workers < self.query_workers:
            raise ValueError(
                f"TREATYGRAPH_CLIENT_QUERY_WORKERS={self.client_workers} must be at least 1 and "
                f"less than TREATYGRAPH_QUERY_WORKERS={self.query_workers}, so that one client "
                "can never hold every query worker"
            )
        if self.max_concurrent_queries_per_client < self.client_workers:
            raise ValueError(
                f"TREATYGRAPH_MAX_CONCURRENT_QUERIES={self.max_concurrent_queries_per_client} "
                f"is below TREATYGRAPH_CLIENT_QUERY_WORKERS={self.client_workers}: a client "
                "could never use the workers it is given"
            )
        if self.client_query_seconds <= 0 or self.client_query_window <= 0:
            raise ValueError(
                "TREATYGRAPH_CLIENT_QUERY_SECONDS and TREATYGRAPH_CLIENT_QUERY_WINDOW must be "
                f"positive, not {self.client_query_seconds:g} and {self.client_query_window:g}"
            )
        if self.web_workers < 1:
            raise ValueError(f"TREATYGRAPH_WEB_WORKERS={self.web_workers} must be at least 1")

    @property
    def sources_dir(self) -> Path:
        return self.data_dir / "sources"

    @property
    def facts_dir(self) -> Path:
        return self.data_dir / "facts"

    @property
    def current_build(self) -> Path:
        """The symlink that always points at the last good build."""
        return self.build_dir / "current"
