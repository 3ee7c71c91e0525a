"""The detector as separate worker processes joined by the bus: ``detector worker ROLE``.

One module per role, each a ``Worker`` (``base.py``) run by the same outage-proof loop:

- ``ingest``: reads the configured sources, publishes new posts about watched services (``ingest.py``);
- ``classify``: any number; classifies and stores posts, forwards verdicts (``classify.py``);
- ``aggregate``: one active (lease); buckets, detection and incidents in event-time order (``aggregate.py``);
- ``alert``: one active (lease); delivers the outbox (``alert.py``).

The leases (with fencing tokens) and the aggregate's checkpoint are tables like any other: ``detector/store/leases.py``.
"""
