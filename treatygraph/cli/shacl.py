"""`treatygraph shacl`: validate any RDF files against any SHACL shapes with the project's engine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_CONFORMS, EXIT_NOT_CONFORMING, EXIT_REFUSED = 0, 1, 2
FORMATS = {"text": None, "turtle": "turtle", "json-ld": "json-ld"}


@click.command()
@click.argument(
    "data", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--shapes",
    "shapes",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A shapes file (.ttl, .nt or .rdf); repeat for several.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="text for people; turtle or json-ld for the complete sh:ValidationReport.",
)
def shacl(data: tuple[Path, ...], shapes: tuple[Path, ...], fmt: str) -> None:
    """Validate DATA files against SHACL shapes, with the shapes compiled to SPARQL on Oxigraph.

    Exit 0 when the data conforms, 1 when it does not, 2 when a shape uses something the engine
    refuses (named in the message) or an input cannot be read.
    """
    from treatygraph.validation.report import shape_names
    from treatygraph.validation.shacl_sparql import UnsupportedShape, read_graph, validate_files

    try:
        report = validate_files(list(data), list(shapes))
    except UnsupportedShape as error:
        click.echo(f"Refused: {error}", err=True)
        sys.exit(EXIT_REFUSED)
    except ValueError as error:  # a file that does not parse, named in the message
        click.echo(str(error), err=True)
        sys.exit(EXIT_REFUSED)
    if FORMATS[fmt] is None:
        names = {}
        for path in shapes:
            names.update(shape_names(read_graph(path)))
        report.shape_names = names
        click.echo(report.text())
    else:
        click.echo(report.graph.serialize(format=FORMATS[fmt]))
    sys.exit(EXIT_CONFORMS if report.conforms else EXIT_NOT_CONFORMING)
