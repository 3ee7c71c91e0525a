"""The `detector` command: the front door for users, on-call and analysts.

Errors are one clear line (exit 1) unless --debug asks for the traceback; anything that could hold a
secret is masked before it is printed.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from detector.alerting.channels.base import ChannelError
from detector.config import ConfigError
from detector.secrets import SecretError
from detector.sources.replay import ReplayError
from detector.store.database import StoreError


class _Group(click.Group):
    """A click group that turns known errors into one line, and unknown ones into one line plus a hint."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as error:  # the one place every error becomes a message
            debug = ctx.params.get("debug") or os.environ.get("DETECTOR_DEBUG") == "1"
            if debug:
                raise
            from detector.classify.claims import ClaimsFileError
            from detector.runtime.assembly import ClassifierUnavailable

            known = (ConfigError, StoreError, ReplayError, SecretError, ChannelError, ClassifierUnavailable, ClaimsFileError,
                     FileNotFoundError, PermissionError)
            message = str(error) if isinstance(error, known) else f"{type(error).__name__}: {error}"
            click.echo(f"error: {message.splitlines()[0] if message else type(error).__name__}", err=True)
            if not isinstance(error, known):
                click.echo("(run with --debug for the traceback)", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Show informational logs.")
@click.version_option(package_name="outage-detector", prog_name="detector")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """Outage signal detector: watch what people post about your services, alert before the status page.

    \b
    Quick start (no config file needed):
      detector replay tweets.csv --service Xfinity --match xfinity \\
          --time-column ts_utc --text-column text --author-column user --db x.db
      detector alerts --db x.db --format json
      detector export --db x.db --format parquet --out posts.parquet

    Run `detector COMMAND --help` for each command's options.
    """
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "sentence_transformers", "transformers", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    """Every command, listed once; each lives in the module of its stage."""
    from detector.cli import (alerts, backtest, classify, config_cmd, dashboard, export, quarantine, replay, run,
                              volume, worker)

    for command in (
        replay.replay_cmd, replay.demo_cmd, run.run_cmd, alerts.alerts_group, export.export_cmd,
        config_cmd.config_group, classify.train_cmd, classify.evaluate_cmd, classify.classify_cmd,
        volume.detect_series_cmd, volume.nab_score_cmd, dashboard.dashboard_cmd, dashboard.report_cmd,
        run.leadtime_cmd, worker.worker_cmd, backtest.backtest_cmd, quarantine.quarantine_cmd,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="detector")


if __name__ == "__main__":
    main()
