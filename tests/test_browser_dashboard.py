"""A real browser on a running `detector dashboard`: the service page draws its chart, and hostile posts
show as text without running (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard import sample
from tests.fakes.server import free_port

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " (CI must run the browser test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when it is missing."""
    if not CHROMIUM.exists() and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False, timeout=1200)
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing and could not be installed with apt-get")
    return CHROMIUM



def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)  # polling a real server process: there is nothing to fake here
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout:.0f}s")


@pytest.fixture
def sample_db(tmp_path) -> sample.Sample:
    return sample.build(tmp_path / "browser.db", posts=1500)


@pytest.fixture
def dashboard(tmp_path, sample_db):
    """`detector dashboard` on a sample database, as a subprocess on a free port."""
    yield from _serve(tmp_path, sample_db.path)


@pytest.fixture
def hostile_dashboard(tmp_path):
    """The same on a sample whose first service's name carries an image, a tag, bold and a script link."""
    yield from _serve(tmp_path, sample.build(tmp_path / "hostile.db", posts=1500, names=(HOSTILE_NAME, "Spotify")).path)


HOSTILE_NAME = "Acme ![x](http://127.0.0.1:9/x.png) **bold** <img src=x onerror=alert(1)> [link](javascript:alert(1))"


def _serve(tmp_path, path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_DASHBOARD_")}
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "detector.cli.main", "dashboard", "--db", str(path), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this test started: detector and its streamlit
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_service_page_shows_chart_and_hostile_posts_as_text(chromium, dashboard, tmp_path):
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(f"{dashboard}/?page=service&service=Xfinity&range=24h", wait_until="domcontentloaded")
            page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
                                   timeout=60_000)
            page.get_by_text("<script>alert(1)</script>", exact=False).first.wait_for(timeout=30_000)
            texts = page.locator('[data-testid="stText"]').all_inner_texts()
            assert any(t.startswith("<script>alert(1)</script>") for t in texts)
            assert any(t.startswith("<img src=x onerror=alert(1)>") for t in texts)
            assert page.locator('img[src="x"]').count() == 0  # not turned into an element
            assert page.locator("script:text('alert(1)')").count() == 0
            page.wait_for_timeout(500)  # give an injected handler the chance to fire, were there one
            page.screenshot(path=str(tmp_path / "service-page.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    assert (tmp_path / "service-page.png").stat().st_size > 10_000


def test_a_notifications_dashboard_link_lands_on_its_incident(chromium, dashboard, sample_db):
    """The link a notification carries (``/?incident=ID``) opens that incident, not the Overview: here the
    older, resolved one, which the Alerts page would not pick by itself."""
    from playwright.sync_api import sync_playwright

    from detector.alerting.notification import dashboard_link
    from detector.alerting.settings import AlertSettings

    link = dashboard_link(AlertSettings(dashboard_url=dashboard + "/"), sample_db.resolved_incident)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link, wait_until="domcontentloaded")
            page.get_by_text(f"Incident {sample_db.resolved_incident}", exact=True).wait_for(timeout=60_000)
            assert page.get_by_text(f"Incident {sample_db.open_incident}", exact=True).count() == 0
            assert "incident=" + sample_db.resolved_incident in page.url
            page.get_by_text("Drafted public update").first.wait_for(timeout=30_000)  # its comms view is there
            page.get_by_text("Follow-up (resolved)").first.wait_for(timeout=30_000)
            page.get_by_text("People in all").first.wait_for(timeout=30_000)
        finally:
            browser.close()


def test_a_hostile_service_name_is_text_on_the_overview_and_alerts(chromium, hostile_dashboard):
    """The name is in the Overview's buttons and headings and the Alerts page's heading: shown as typed, with
    no image fetched, no element made and no link to follow."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    fetched: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: fetched.append(r.url) if "127.0.0.1:9/" in r.url else None)
            for where in ("overview", "alerts"):
                page.goto(f"{hostile_dashboard}/?page={where}", wait_until="domcontentloaded")
                # the buttons and headings (tables are drawn on canvas); a word joiner breaks the bare URL
                shown = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="**bold** <img src=x")
                shown.first.wait_for(timeout=60_000)
                assert any(HOSTILE_NAME in t.replace("\u2060", "") for t in shown.all_inner_texts()), where
                page.wait_for_timeout(1000)
                assert page.locator('img[src*="127.0.0.1:9"], img[src="x"]').count() == 0, where
                links = page.locator("a").evaluate_all("els => els.map(e => e.href)")
                assert [h for h in links if h.startswith("javascript") or h.startswith("http://127")
                        and not h.startswith(hostile_dashboard)] == [], where
                assert page.locator("strong:text-is('bold')").count() == 0, where
        finally:
            browser.close()
    assert dialogs == [] and fetched == []
