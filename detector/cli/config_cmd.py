"""`detector config check`: every problem of a config file, with its place and its fix."""

from __future__ import annotations

import json
from pathlib import Path

import click

from detector.config import Settings, check_settings


@click.group("config")
def config_group() -> None:
    """Check configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--schema", is_flag=True, help="Print the JSON schema of the config file instead.")
def check_cmd(file: Path | None, schema: bool) -> None:
    """Validate FILE; print every error with its place (TOML path and line) and how to fix it.

    Beyond the schema, it looks for what would fail at run time: replay and claims files that do not exist,
    channel URL schemes nothing can send to, ``${NAME}`` references that are not set (in this environment
    and the secrets file), and names that refer to no service. No request is sent anywhere."""
    if schema:
        click.echo(json.dumps(Settings.model_json_schema(), indent=2))
        return
    if file is None:
        raise click.UsageError("give a config FILE (or --schema)")
    from detector.config_runtime import runtime_problems

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{file}: cannot be read ({error.strerror if isinstance(error, OSError) else error})")
    settings, problems = check_settings(text, file)
    if settings is not None:
        problems += runtime_problems(settings, text)
    if problems:
        click.echo(f"{file}: {len(problems)} problem(s)", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
    click.echo(
        f"{file}: OK — {len(settings.services)} service(s), {len(settings.sources)} source(s), "
        f"classifier {settings.classifier.kind}, {len(settings.alerts.channels)} alert channel(s)"
    )
