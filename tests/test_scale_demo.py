"""The done-when of the scale-out issue on the real demo data: the bundled Xfinity tweets (8,787 posts over
eight months) through the workers give the single process's posts, buckets and incidents.

Eight months of one-minute buckets take minutes to judge, so this runs in CI (CI=true) and locally only
when asked: ``DETECTOR_DEMO_CHECK=1 pytest tests/test_scale_demo.py`` (``DETECTOR_DEMO_CLASSIFIER=model`` for the model;
keywords by default).
"""

from __future__ import annotations

import os
import tomllib

import pytest
from click.testing import CliRunner

from detector.bus.settings import BusSettings
from detector.bus.streams import RedisBus
from detector.cli.main import cli
from tests.test_scale import KEY, Workers, assert_same_results, namespace, pg_url, wait_until  # noqa: F401
from tests.conftest import REPO

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(3600),
              pytest.mark.skipif(os.environ.get("DETECTOR_DEMO_CHECK") != "1" and os.environ.get("CI") != "true",
                                 reason="takes a few minutes; runs in CI, or locally with DETECTOR_DEMO_CHECK=1")]


def demo_config(path, *, db: str, alerts, bus: str | None = None, namespace: str = "-") -> None:
    text = (REPO / "examples" / "xfinity.toml").read_text()
    settings = tomllib.loads(text)
    kind = os.environ.get("DETECTOR_DEMO_CLASSIFIER", "keywords")
    data = REPO / "data" / "xfinity-outage-2020" / "tweets.csv"
    text = text.replace('db = "../demo.db"', f'db = "{db}"').replace('path = "../data/xfinity-outage-2020/tweets.csv"',
                                                                     f'path = "{data}"')
    text = text.replace('kind = "model"', f'kind = "{kind}"').replace('jsonl = "../demo-alerts.jsonl"',
                                                                     f'jsonl = "{alerts}"')
    assert settings["classifier"]["kind"] == "model"
    if bus:
        text += f'\n[bus]\nurl = "{bus}"\nnamespace = "{namespace}"\nclaim_idle_seconds = 5\n'
    path.write_text(text)


def test_the_demo_data_gives_the_same_incidents_distributed(tmp_path, pg_url, namespace, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", KEY)
    single = tmp_path / "single.db"
    demo_config(tmp_path / "single.toml", db=str(single), alerts=tmp_path / "single.jsonl")
    result = CliRunner().invoke(cli, ["replay", str(REPO / "data" / "xfinity-outage-2020" / "tweets.csv"),
                                      "-c", str(tmp_path / "single.toml"), "-q"])
    assert result.exit_code == 0, result.output

    demo_config(tmp_path / "workers.toml", db=pg_url, alerts=tmp_path / "alerts.jsonl",
                bus="redis://127.0.0.1:6379/0", namespace=namespace)
    bus = RedisBus(BusSettings(url="redis://127.0.0.1:6379/0", namespace=namespace))
    workers = Workers(tmp_path / "workers.toml", tmp_path)
    try:
        for role, name in (("classify", "classify-1"), ("classify", "classify-2"), ("aggregate", "aggregate")):
            workers.start(role, name)
        wait_until(lambda: all("started" in workers.log(n) for n in workers.processes), 300, "workers to start")
        ingest = workers.start("ingest", "ingest")
        assert ingest.wait(timeout=1800) == 0, workers.log("ingest")
        wait_until(lambda: bus.aggregated() == bus.published(), 1800, "the aggregate to finish", every=1.0)
    finally:
        workers.stop_all()
    assert_same_results(pg_url, single)
