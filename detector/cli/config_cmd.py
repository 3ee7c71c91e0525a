"""`detector config check`: every problem of a config file, with its place and its fix."""

from __future__ import annotations

import json
from pathlib import Path

import click

from detector.config import ConfigError, Settings, load_settings


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--schema", is_flag=True, help="Print the JSON schema of the config file instead.")
def check_cmd(file: Path | None, schema: bool) -> None:
    """Validate FILE; print every error with its place (TOML path and line) and how to fix it."""
    if schema:
        click.echo(json.dumps(Settings.model_json_schema(), indent=2))
        return
    if file is None:
        raise click.UsageError("give a config FILE (or --schema)")
    try:
        settings = load_settings(file)
    except ConfigError as error:
        click.echo(f"{file}: {len(error.problems)} problem(s)", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
    click.echo(
        f"{file}: OK — {len(settings.services)} service(s), {len(settings.sources)} source(s), "
        f"classifier {settings.classifier.kind}, {len(settings.alerts.channels)} alert channel(s)"
    )
