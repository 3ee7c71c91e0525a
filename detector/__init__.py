"""Outage signal detector: social posts about a service in, early outage alerts with evidence out.

For analysts, the stored data as pandas DataFrames::

    import detector
    posts = detector.load_posts("x.db", service="Xfinity")
    buckets = detector.load_buckets("x.db")
    alerts = detector.load_alerts("x.db")

Those three are loaded on first use: pandas takes a third of a second to import, and every `detector`
command (most of which never touch pandas) starts by importing this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["load_alerts", "load_buckets", "load_posts"]

if TYPE_CHECKING:
    from detector.analysis import load_alerts, load_buckets, load_posts


def __getattr__(name: str):
    if name in __all__:
        from detector import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
