"""praw's HTTP layer made polite: every request (token ones too) charged to the source's budget, held to
the source's timeout, and Reddit's rate-limit headers handed to the source.

Apart from ``reddit.py`` because praw takes about half a second to import: the config, which reads
``RedditSettings``, must not pay that in every command; the source imports this when it is built.
"""

from __future__ import annotations

from typing import Any

import prawcore

from detector.sources.polite import SourceUnavailable


class BudgetedRequestor(prawcore.Requestor):
    """praw's HTTP layer, charging every request (token ones too) to the source's budget, and holding
    every request to the source's timeout (prawcore otherwise waits its own 16 s default)."""

    def __init__(self, *args: Any, budget: Any, on_request: Any, on_limits: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.on_request = on_request
        self.on_limits = on_limits

    def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            self.budget.take()
        except SourceUnavailable as error:
            raise prawcore.exceptions.RequestException(error, args, kwargs) from None
        self.on_request()
        kwargs["timeout"] = self.timeout
        response = super().request(*args, **kwargs)
        headers = response.headers
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return response
        self.on_limits(remaining, reset)
        return response
