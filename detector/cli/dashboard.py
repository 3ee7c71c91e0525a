"""`detector dashboard` (the Streamlit app) and `detector report` (the one-page incident report)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import click

from detector.cli.common import db_option, open_store
from detector.secrets import Secrets

PASSWORD_NAMES = ("dashboard_password", "dashboard_analyst_password", "dashboard_oncall_password")


def dashboard_app() -> Path:
    """The Streamlit script: ``app.py`` of the installed ``dashboard`` package (a checkout's, or the wheel's)."""
    return Path(str(files("dashboard").joinpath("app.py")))


def dashboard_command(db: str, port: int, config: Path | None = None, address: str | None = None,
                      secrets_file: Path | None = None) -> list[str]:
    """The `streamlit run` command line; without a password it listens on localhost only.

    The database is not on it (a PostgreSQL URL may carry a password, and a command line is visible to
    every user through ``ps``): :func:`dashboard_env` passes it as ``DETECTOR_DB``. Streamlit's toolbar is
    in viewer mode, so users see no Deploy button and no developer menu."""
    del db  # passed in the environment, see dashboard_env
    has_password = any(Secrets(secrets_file).get(n) for n in PASSWORD_NAMES)
    if address is None:
        address = "0.0.0.0" if has_password else "127.0.0.1"
    elif not has_password and not _loopback(address):
        raise click.ClickException(
            f"--address {address} without a dashboard password would give everyone who can reach it on-call rights; "
            "set DETECTOR_DASHBOARD_ONCALL_PASSWORD (and DETECTOR_DASHBOARD_PASSWORD for viewers) or listen on 127.0.0.1")
    command = [
        sys.executable, "-m", "streamlit", "run", str(dashboard_app()), "--server.port", str(port), "--server.address", address,
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]
    if config is not None:
        command += ["--", "--config", str(config)]
    return command


def dashboard_env(db: str) -> dict[str, str]:
    """The child's environment: ours, the database, and no usage statistics sent anywhere.

    X-Forwarded-For is believed only from proxies named in FORWARDED_ALLOW_IPS: uvicorn's default trusts
    loopback, so any local client (or everyone, behind a same-host proxy) could name a fresh address per
    password guess. Set FORWARDED_ALLOW_IPS to your reverse proxy's address to have clients told apart.
    """
    return {**os.environ, "DETECTOR_DB": db, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "FORWARDED_ALLOW_IPS": os.environ.get("FORWARDED_ALLOW_IPS", "")}


def _loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (Streamlit would otherwise pick another port or
    fail after we printed a URL that leads to whatever holds it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado does: TIME_WAIT is not "in use"
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


_STOP_GRACE_SECONDS = 10.0


def _supervise(child: subprocess.Popen) -> int:
    """Wait for Streamlit; a SIGTERM or Ctrl-C to us is passed on to it, and it is killed if it has not
    stopped a few seconds later. The signal handler only passes the signal on and notes the time: waiting
    inside it would deadlock with the wait it interrupted."""
    asked: list[float] = []

    def pass_on(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)
        asked.append(time.monotonic())

    previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                return child.wait(0.5)
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > _STOP_GRACE_SECONDS:
                    child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()


def launch_dashboard(db: str, port: int = 8501, config: Path | None = None, address: str | None = None) -> int:
    """Run the dashboard on ``db`` until interrupted or terminated (blocking); return streamlit's exit code.

    SIGTERM (a service manager's stop) and Ctrl-C are passed on to the Streamlit child and waited for,
    so stopping `detector dashboard` never leaves the app holding its port."""
    secrets_file = None
    if config is not None:
        from detector.config import load_settings

        secrets_file = load_settings(config).secrets_file
    command = dashboard_command(db, port, config, address, secrets_file)
    host = command[command.index("--server.address") + 1]
    if port_in_use(host, port):
        raise click.ClickException(f"port {port} is in use on {host}; stop what holds it or pick another with --port")
    child = subprocess.Popen(command, env=dashboard_env(db))
    click.echo(f"dashboard: http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}  (Ctrl-C to stop)")
    code = _supervise(child)
    return 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code


@click.command("dashboard")
@db_option
@click.option("--port", default=8501, show_default=True, help="Port to serve on.")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="DETECTOR_CONFIG",
              help="TOML config file (the detection metric, the secrets file).")
@click.option("--address", default=None,
              help="Address to listen on [default: 0.0.0.0 with a dashboard password set, else 127.0.0.1].")
def dashboard_cmd(db: str | None, port: int, config: Path | None, address: str | None) -> None:
    """Open the dashboard: overview for comms, alerts for on-call, explore and label for analysts.

    Set DETECTOR_DASHBOARD_PASSWORD (read-only), DETECTOR_DASHBOARD_ANALYST_PASSWORD (labels) and
    DETECTOR_DASHBOARD_ONCALL_PASSWORD (ack, resolve, silence), or the same names in the secrets file.
    """
    store = open_store(db, config)  # checks the database exists, upgrades an old schema once
    url = store.engine.url.render_as_string(hide_password=False)  # for the child only, never printed
    store.close()
    target = db or (url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url)
    code = launch_dashboard(db=target, port=port, config=config, address=address)
    sys.exit(code)


@click.command("report")
@click.argument("incident_id")
@db_option
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write [default: stdout].")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="DETECTOR_CONFIG",
              help="Config whose detection metric, claims file and [comms] templates the report uses.")
def report_cmd(incident_id: str, db: str | None, fmt: str, out: Path | None, config: Path | None) -> None:
    """Write the one-page report of INCIDENT_ID for a public update: duration, peak against expected, the
    timeline and our lead, people who reported it, symptoms, sources and languages, rumours with their
    claim text, verdict and answer, representative posts."""
    from detector.cli.common import load_or_default
    from detector.report import UnknownIncident, build_report  # pandas: only this command needs it
    from detector.runtime.assembly import known_claims

    settings = load_or_default(config)
    store = open_store(db, config)
    try:
        text = build_report(store, incident_id, metric=settings.detection.metric,
                            claims=known_claims(settings.classifier),
                            templates=settings.comms.templates).render(fmt)
    except UnknownIncident:
        raise click.ClickException(f"no incident {incident_id!r}; list them with `detector alerts`") from None
    finally:
        store.close()
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
