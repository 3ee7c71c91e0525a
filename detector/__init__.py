"""Outage signal detector: social posts about a service in, early outage alerts with evidence out.

For analysts, the stored data as pandas DataFrames::

    import detector
    posts = detector.load_posts("x.db", service="Xfinity")
    buckets = detector.load_buckets("x.db")
    alerts = detector.load_alerts("x.db")
"""

from detector.analysis import load_alerts, load_buckets, load_posts

__all__ = ["load_alerts", "load_buckets", "load_posts"]
