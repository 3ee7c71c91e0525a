"""The message bus between worker processes: Redis Streams with consumer groups.

``streams.py`` has the bus itself (publishing with a dedup ledger and a dense sequence number, reading,
claiming a dead worker's messages, acknowledging, lag), ``codec.py`` turns records into stream fields and
back, and ``settings.py`` is the ``[bus]`` table of the config file.
"""
