"""docs/alerting.md mentions every alert setting and every channel URL scheme."""

from pathlib import Path

import pytest

from detector.alerting.channels.registry import schemes
from detector.alerting.settings import AlertSettings, ChannelSettings

DOC = (Path(__file__).resolve().parents[1] / "docs" / "alerting.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted({*AlertSettings.model_fields, *ChannelSettings.model_fields}))
def test_every_setting_is_documented(name):
    assert f"`{name}`" in DOC


@pytest.mark.parametrize("scheme", sorted(schemes()))
def test_every_scheme_is_documented(scheme):
    assert f"{scheme}://" in DOC or f"`{scheme.split('+')[0]}+http(s)://" in DOC
