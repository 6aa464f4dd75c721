"""The `treatygraph` command: one group whose commands form the pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .common import EXIT_INVALID, fail, load_config

# gthread: as fast as the others on cold lookups and first page visits, and the only one with a
# steady p99 on cached answers (gevent's reached 0.4 to 0.8 s under load) that also tells the app
# a client went away (granian cannot); see the README's serving results.
DEFAULT_HTTP_SERVER = "gthread"


def _progress(quiet: bool):
    if quiet:
        return lambda step: None
    from rich.console import Console

    console = Console(stderr=True)
    return lambda step: console.print(f"[bold cyan]•[/] {step}")


@click.group()
@click.version_option(package_name="treatygraph")
def main() -> None:
    """Build, check, query and serve the treatygraph linked-data set."""


@main.command()
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--store",
    "store_urls",
    envvar="TREATYGRAPH_STORE",
    metavar="URL",
    multiple=True,
    help="Load the graphs into this remote SPARQL 1.1 store (its Graph Store Protocol URL, "
    "e.g. http://host:7878/store or http://host:8890/sparql-graph-crud-auth) and serve from "
    "it, instead of an embedded Oxigraph store. Twice: two stores loaded in turn, each build "
    "into the one the current build does not read.",
)
@click.option(
    "--store-query",
    envvar="TREATYGRAPH_STORE_QUERY",
    metavar="URL",
    help="The remote store's query service (guessed for Oxigraph, Fuseki and Virtuoso).",
)
@click.option(
    "--store-update",
    envvar="TREATYGRAPH_STORE_UPDATE",
    metavar="URL",
    help="The remote store's update service (guessed for Oxigraph, Fuseki and Virtuoso).",
)
@click.option(
    "--store-load-dir",
    envvar="TREATYGRAPH_STORE_LOAD_DIR",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Virtuoso: write the graphs into DIR and load them with its bulk loader instead of "
    "over HTTP (DIR must be in its DirsAllowed, on its machine or a shared volume).",
)
def build(
    quiet: bool,
    store_urls: tuple[str, ...],
    store_query: str | None,
    store_update: str | None,
    store_load_dir: Path | None,
) -> None:
    """Load sources and facts, check quotes, validate, load the store and write the dumps.

    The remote store's update side authenticates as TREATYGRAPH_STORE_USER with
    TREATYGRAPH_STORE_PASSWORD, when set (never in a URL: URLs are logged)."""
    from treatygraph.core.errors import DataError
    from treatygraph.publish.build import BuildLocked, ValidationFailed
    from treatygraph.publish.build import build as run_build
    from treatygraph.store.remote import StoreEndpoints, credentials_from_env

    if len(store_urls) > 2:
        raise click.UsageError("--store is given at most twice (two stores loaded in turn)")
    if len(store_urls) == 2 and (store_query or store_update):
        raise click.UsageError("--store-query and --store-update go with a single --store")
    if not store_urls and (store_query or store_update or store_load_dir):
        raise click.UsageError("--store-query, --store-update and --store-load-dir need --store")
    if store_load_dir is not None and not store_load_dir.is_dir():
        raise click.UsageError(f"--store-load-dir {store_load_dir}: no such folder")
    try:
        credentials = credentials_from_env()
        remote = tuple(
            StoreEndpoints.from_urls(url, store_query, store_update, credentials)
            for url in store_urls
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if len({endpoints.query for endpoints in remote}) < len(remote):
        raise click.UsageError("the two --store URLs name the same store")
    config = load_config()
    try:
        info = run_build(config, _progress(quiet), remote, store_load_dir)
    except DataError as err:
        fail(f"Build failed; the last good build is still in place.\n{err}")
    except ValidationFailed as err:
        fail(f"Build failed; the last good build is still in place.\n{err.report.text()}")
    except BuildLocked as err:
        fail(str(err))
    except OSError as err:  # the build folder: not writable, disk full
        fail(f"Build failed; the last good build is still in place.\n{err}")
    if not quiet:
        click.echo(f"{info.version}: {info.triples} triples in {config.current_build}")


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "turtle"]),
    default="text",
    show_default=True,
    help="text for people; turtle for the machine-readable SHACL report.",
)
def validate(fmt: str) -> None:
    """Run the checks alone: quotes, references, dates and SHACL shapes."""
    from treatygraph.core.errors import DataError
    from treatygraph.publish.assemble import assemble
    from treatygraph.publish.assemble import validate as run_validate

    try:
        report = run_validate(assemble(load_config()))
    except DataError as err:
        fail(str(err))
    if fmt == "turtle":
        click.echo(report.graph.serialize(format="turtle"))
    else:
        click.echo(report.text())
    if not report.conforms:
        sys.exit(EXIT_INVALID)


@main.command()
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("PORT", "8080")),
    show_default="8080 or $PORT",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--workers",
    type=int,
    default=None,
    show_default="TREATYGRAPH_WEB_WORKERS, or the number of cores",
    help="Web processes. They share one pool of query processes (TREATYGRAPH_QUERY_WORKERS) "
    "through a broker process, so the per-client limits and budget are the same whichever "
    "process answers.",
)
@click.option(
    "--http-server",
    type=click.Choice(["gevent", "gthread", "granian"]),
    default=DEFAULT_HTTP_SERVER,
    show_default=True,
    envvar="TREATYGRAPH_HTTP_SERVER",
    help="gunicorn with threads (the steadiest tail latency measured here) or with gevent, or "
    "granian (faster for small answers, but it cannot tell the app that a client went away, so "
    "an abandoned query keeps its worker until the timeout).",
)
@click.option(
    "--front/--no-front",
    default=True,
    show_default=True,
    envvar="TREATYGRAPH_FRONT",
    help="Read each client's whole request on an event loop (with time and size limits) before "
    "handing it to gunicorn over a private socket, so slow clients hold no application thread. "
    "--no-front (TREATYGRAPH_FRONT=0) lets gunicorn face the clients itself.",
)
@click.option(
    "--head-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    envvar="TREATYGRAPH_HEAD_TIMEOUT",
    help="Seconds the front gives a client to send a request's line and headers (then 408).",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    envvar="TREATYGRAPH_BODY_TIMEOUT",
    help="Seconds the front gives a client to send a request's body (then 408).",
)
def serve(
    port: int,
    host: str,
    workers: int | None,
    http_server: str,
    front: bool,
    head_timeout: float,
    body_timeout: float,
) -> None:
    """Serve the last build (building first if there is none)."""
    import dataclasses

    from treatygraph.publish.build import current_release

    if front and http_server == "granian":
        raise click.UsageError("the front serves gunicorn only: add --no-front for granian")
    config = load_config()
    if workers is not None:
        config = dataclasses.replace(config, web_workers=workers)
    try:
        config.check_query_limits()
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if current_release(config) is None:
        click.echo("No build yet; building first.", err=True)
        ctx = click.get_current_context()
        ctx.invoke(build, quiet=False)
    from server.sparql import broker

    try:
        os.environ[broker.ENV] = broker.start()
    except RuntimeError as err:
        fail(str(err))
    base = f"http://{host}:{port}"
    click.echo(f"Home page:        {base}/")
    click.echo(f"SPARQL endpoint:  {base}/sparql")
    click.echo(f"Dumps:            {base}/dumps/")
    if not front:
        argv = HTTP_SERVERS[http_server](f"{host}:{port}", config.web_workers)
        os.execv(argv[0], argv)
    from server.edge import Limits
    from server.front import run

    upstream = os.path.join(os.path.dirname(os.environ[broker.ENV]), "app.socket")
    argv = HTTP_SERVERS[http_server](f"unix:{upstream}", config.web_workers)
    # The front gives each request the client's address in a PROXY protocol line.
    argv[-1:-1] = ["--proxy-protocol", "v1"]
    limits = Limits(config.max_request_bytes, head_timeout, body_timeout)
    sys.exit(run(host, port, argv, upstream, limits))


def _gunicorn(worker_class: str, *options: str):
    def argv(bind: str, workers: int) -> list[str]:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        return [
            gunicorn,
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            *options,
            "--no-control-socket",  # one fixed socket path would clash between servers
            "--graceful-timeout",
            "30",
            "--limit-request-line",  # gunicorn's largest: SPARQL GET queries up to ~8 KB
            "8190",
            "--access-logfile",
            "-",
            "server.app:serving_app()",
        ]

    return argv


def _granian(bind: str, workers: int) -> list[str]:
    host, _, port = bind.rpartition(":")
    granian = Path(sys.executable).with_name("granian")
    if not granian.exists():
        raise click.UsageError("--http-server granian needs granian: pip install granian")
    return [
        str(granian),
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        port,
        "--workers",
        str(workers),
        "--blocking-threads",
        "32",
        "--access-log",
        "--factory",
        "server.app:serving_app",
    ]


# The HTTP servers `serve` can run the app under, measured side by side by `python -m bench`.
HTTP_SERVERS = {
    "gevent": _gunicorn("gevent", "--worker-connections", "1000"),
    "gthread": _gunicorn("gthread", "--threads", "32"),
    "granian": _granian,
}


@main.command()
@click.argument("sparql", required=False)
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "tsv", "turtle"]),
    default="table",
    show_default=True,
)
def query(sparql: str | None, path: Path | None, fmt: str) -> None:
    """Run a SPARQL query on the last build and print the result."""
    from treatygraph.publish.query import QueryError, run_query_cli

    if (sparql is None) == (path is None):
        raise click.UsageError("give a query or -f FILE, not both and not neither")
    text = path.read_text(encoding="utf-8") if path else sparql
    try:
        click.echo(run_query_cli(load_config(), text, fmt), nl=False)
    except QueryError as err:
        fail(str(err))


@main.command()
def dump() -> None:
    """Write the dumps of the current build again from its store."""
    from treatygraph.publish.build import BuildLocked, rewrite_dumps

    try:
        info = rewrite_dumps(load_config())
    except (FileNotFoundError, BuildLocked) as err:
        fail(str(err))
    click.echo(f"Dumps written: {info.triples} triples")


@main.command("lint-data")
@click.option("--fix", is_flag=True, help="Rewrite the curated files in canonical (sorted) form.")
def lint_data(fix: bool) -> None:
    """Check that every curated YAML file is in canonical form (sorted by id)."""
    from treatygraph.curation.lint import check_canonical

    config = load_config()
    changed = check_canonical(config, fix=fix)
    for path in changed:
        click.echo(f"{'rewrote' if fix else 'not canonical'}: {path}")
    if changed and not fix:
        fail("Run `treatygraph lint-data --fix` to sort and re-dump them.")


def _register_commands() -> None:
    from .shacl import shacl
    from .wikidata import link, wikidata_diff

    main.add_command(link)
    main.add_command(wikidata_diff)
    main.add_command(shacl)


_register_commands()
