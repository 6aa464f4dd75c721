"""The Wikidata commands of the CLI: `treatygraph link` and `treatygraph wikidata-diff`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import EXIT_INVALID, load_config

EXIT_UNREACHABLE = 3

endpoint_option = click.option(
    "--endpoint",
    help="Wikidata SPARQL endpoint [default: $TREATYGRAPH_WIKIDATA_ENDPOINT or the Query Service].",
)
timeout_option = click.option(
    "--timeout", type=float, default=60, show_default=True, help="Seconds per query."
)


def _assembled():
    from treatygraph.core.errors import DataError
    from treatygraph.publish.assemble import assemble

    config = load_config()
    try:
        return config, assemble(config)
    except DataError as err:
        click.echo(str(err), err=True)
        sys.exit(EXIT_INVALID)


@click.command()
@click.argument("record_ids", nargs=-1)
@endpoint_option
@timeout_option
@click.option("--accept", is_flag=True, help="Append the unambiguous proposals to the links file.")
@click.option("--report", is_flag=True, help="List the entities without a link; ask no endpoint.")
def link(
    record_ids: tuple[str, ...], endpoint: str | None, timeout: float, accept: bool, report: bool
) -> None:
    """Propose Wikidata items for entities that have no link yet.

    Matches our labels, alternative labels and short names (en, ru) against Wikidata's labels and
    aliases, keeps items of the right type (a state must be a sovereign state or country, a person
    a human, ...) and prints every candidate with its evidence. Nothing is written without
    --accept, which appends exactly the entities with one candidate of the right type to
    data/wikidata-links.tsv. RECORD_IDS limits the run to those records.
    """
    from treatygraph.curation.links import links_path, read_links, unlinked_entities
    from treatygraph.wikidata.client import WikidataError, propose

    config, assembled = _assembled()
    path = links_path(config.data_dir)
    links = read_links(path)
    entities = unlinked_entities(
        assembled.graphs["facts"], assembled.ns, assembled.facts.records, links
    )
    if record_ids:
        unknown = set(record_ids) - {e.record_id for e in entities}
        if unknown:
            raise click.BadParameter(
                f"not an unlinked entity: {', '.join(sorted(unknown))}", param_hint="RECORD_IDS"
            )
        entities = [e for e in entities if e.record_id in record_ids]
    if report:
        click.echo("id\tkind\tlabel")
        for entity in entities:
            click.echo(f"{entity.record_id}\t{entity.kind}\t{entity.label}")
        click.echo(f"{len(entities)} entities without a Wikidata link", err=True)
        return
    endpoint = endpoint or config.wikidata_endpoint
    try:
        proposals = propose(endpoint, entities, timeout)
    except WikidataError as err:
        click.echo(f"Could not ask Wikidata: {err}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    linked = {link.qid: link.record_id for link in links}
    accepted = []
    for proposal in proposals:
        entity = proposal.entity
        click.echo(f"{entity.record_id}  {entity.label!r}: {proposal.verdict}")
        for candidate in proposal.candidates:
            mark = "+" if candidate.typed else "-"
            click.echo(f"  {mark} {candidate.qid}  {candidate.evidence()}")
        new = proposal.accepted(endpoint)
        if new is None:
            continue
        if new.qid in linked:
            click.echo(f"  ! {new.qid} is already linked to {linked[new.qid]}; not accepted")
            continue
        linked[new.qid] = new.record_id
        accepted.append(new)
    if accept and accepted:
        from treatygraph.curation.links import append_links

        append_links(path, accepted)
        click.echo(f"Appended {len(accepted)} link(s) to {path}")
    elif accepted:
        click.echo(f"{len(accepted)} proposal(s); run again with --accept to write them")


@click.command("wikidata-diff")
@endpoint_option
@timeout_option
@click.option(
    "--quickstatements",
    "qs_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write what Wikidata lacks as QuickStatements (V1) to this file, for an editor to review.",
)
def wikidata_diff(endpoint: str | None, timeout: float, qs_path: Path | None) -> None:
    """Compare our sourced statements with Wikidata's for the same items.

    Reports what Wikidata lacks (statements, or their start/end/point-in-time qualifiers), what
    we lack (Wikidata statements on our linked items, and organizations' has-part(s) values that
    no membership of ours matches), and where dates disagree.
    """
    from treatygraph.rdf.namespaces import GRAPH_LINKS, GRAPH_WIKIDATA_VIEW
    from treatygraph.wikidata.client import WikidataError
    from treatygraph.wikidata.diff import (
        compare,
        labels,
        our_statements,
        quickstatements,
        wikidata_parts,
        wikidata_statements,
    )

    config, assembled = _assembled()
    endpoint = endpoint or config.wikidata_endpoint
    ours, not_comparable = our_statements(
        assembled.graphs[GRAPH_WIKIDATA_VIEW],
        assembled.graphs[GRAPH_LINKS],
        assembled.ns.tg.inference,
    )
    items = sorted({s.item for s in ours})
    organizations = sorted({s.value for s in ours if s.prop == "P463"})
    try:
        theirs = wikidata_statements(endpoint, items, timeout) if items else []
        parts = wikidata_parts(endpoint, organizations, timeout) if organizations else []
        linked = {str(o).rsplit("/", 1)[-1] for o in assembled.graphs[GRAPH_LINKS].objects()}
        findings = compare(ours, theirs, parts, linked)
        mentioned = {s.item for f in findings for s in (f.ours, f.theirs) if s}
        mentioned |= {
            s.value for f in findings for s in (f.ours, f.theirs) if s and isinstance(s.value, str)
        }
        names = labels(endpoint, mentioned, timeout)
    except WikidataError as err:
        click.echo(f"Could not ask Wikidata: {err}", err=True)
        sys.exit(EXIT_UNREACHABLE)

    def named(q: str) -> str:
        return f"{q} ({names[q]})" if q in names else q

    order = ("wikidata-lacks", "wikidata-lacks-qualifier", "dates-disagree", "we-lack")
    titles = {
        "wikidata-lacks": "Wikidata lacks",
        "wikidata-lacks-qualifier": "Wikidata lacks qualifiers",
        "dates-disagree": "Dates disagree",
        "we-lack": "We lack",
    }
    click.echo(f"Compared {len(ours)} statements of ours with {len(theirs)} of {endpoint}")
    for kind in order:
        chosen = sorted(
            (f for f in findings if f.kind == kind), key=lambda f: (f.ours or f.theirs).describe()
        )
        click.echo(f"\n{titles[kind]}: {len(chosen)}")
        for finding in chosen:
            statement = finding.ours or finding.theirs
            value = named(statement.value) if isinstance(statement.value, str) else statement.value
            role = f" as {statement.role.rsplit('/', 1)[-1]}" if statement.role else ""
            click.echo(
                f"  {named(statement.item)} {statement.prop} {value}{role}"
                + "".join(f" {p}={w}" for p, w in sorted(statement.qualifiers.items()))
                + f": {finding.detail}"
            )
    click.echo(f"\nNot comparable (value not linked to Wikidata): {len(not_comparable)}")
    if qs_path is not None:
        lines, skipped = quickstatements(findings)
        qs_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        click.echo(f"\nWrote {len(lines)} QuickStatements line(s) to {qs_path}")
        for reason in skipped:
            click.echo(f"  not written: {reason}")
