"""What every command module of the CLI shares: exit codes and the configuration."""

from __future__ import annotations

import sys

import click

from treatygraph.core.config import Config

EXIT_INVALID = 1


def load_config() -> Config:
    """The configuration from the environment; a bad setting is a usage error (exit 2)."""
    try:
        return Config.from_env()
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def fail(message: str) -> None:
    """Print MESSAGE on stderr and exit with EXIT_INVALID."""
    click.echo(message, err=True)
    sys.exit(EXIT_INVALID)
