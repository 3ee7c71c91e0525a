"""Reddit through praw: subreddits' new submissions and comments, and site-wide search, newest first.

praw does the OAuth (read-only app auth with a client id and secret, or script auth with an account) and
paces itself on Reddit's ``X-Ratelimit-*`` headers; our requestor reads the same headers on every response
and, when the window is nearly spent, tells the scheduler to wait for the reset instead of letting praw
block a poll. Every HTTP request praw makes is charged to the source's budget and held to its timeout. Each listing is read
back to the stream's watermark (at most ``max_items``, Reddit's listing depth is about 1000). Deleted and
removed items are read (they move the watermark) but not stored: their text is gone, and so should we be.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Iterable, Literal, Self, Sequence

from pydantic import Field, field_validator

from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.secrets import Secrets
from detector.sources.base import SourceKind
from detector.sources.live_settings import LiveSourceSettings, must_be_reference
from detector.sources.polite import MalformedResponse, SourceUnavailable, Watermark, user_agent
from detector.timeparse import retry_after_seconds
from detector.sources.polling import Entry, PollingSource

log = logging.getLogger("detector.sources.reddit")

_GONE = {"[deleted]", "[removed]"}


class RedditSettings(LiveSourceSettings):
    """Reddit through praw: new submissions and comments of subreddits, and site-wide search."""

    type: Literal["reddit"] = "reddit"
    name: str = "reddit"
    subreddits: list[str] = Field(default_factory=list, description="Subreddits (without r/) to read.")
    comments: bool = Field(True, description="Also read the subreddits' new comments.")
    search: list[str] | None = Field(
        None, description="Site-wide search queries (newest first). Default: one query per watched service, "
        "its match terms joined with OR; [] for none.",
    )
    client_id: str = Field("${reddit_client_id}", description="The app's client id, usually as ${NAME}.")
    client_secret: str | None = Field("${reddit_client_secret}", description="The app's secret: a ${NAME} reference.")
    username: str | None = Field(None, description="Script auth: the account (read-only app auth when empty).")
    password: str | None = Field(None, description="Script auth: the account's password, a ${NAME} reference.")
    oauth_url: str = Field("https://oauth.reddit.com", description="Reddit's API base URL.")
    reddit_url: str = Field("https://www.reddit.com", description="Reddit's site URL (access tokens).")
    min_ratelimit_remaining: int = Field(5, ge=0, description="Pause until the rate-limit window resets below this.")

    @field_validator("client_secret", "password")
    @classmethod
    def _secrets_by_reference(cls, value: str | None) -> str | None:
        return must_be_reference(value)

    def for_services(self, services: Sequence[Any]) -> Self:
        """Left unset, ``search`` is one query per watched service, its match terms joined with OR (Reddit's
        search understands OR and quotes)."""
        if self.search is not None:
            return self
        queries = [" OR ".join(f'"{t}"' if " " in t else t for t in s.match) for s in services if s.match]
        return self.model_copy(update={"search": queries})


class RedditSource(PollingSource):
    """New submissions and comments of the configured subreddits, and site-wide search results."""

    def __init__(self, settings: RedditSettings, pseudonymiser: Pseudonymiser, secrets: Secrets | None = None,
                 **kwargs: Any) -> None:
        import praw  # here, not at the top: see reddit_requestor

        from detector.sources.reddit_requestor import BudgetedRequestor

        super().__init__(settings, pseudonymiser, secrets, **kwargs)
        secrets = self.secrets
        self._requests = 0
        self.settings: RedditSettings = settings
        credentials = {
            "client_id": secrets.expand(settings.client_id),
            "client_secret": secrets.expand(settings.client_secret) if settings.client_secret else None,
        }
        if settings.username:
            credentials["username"] = secrets.expand(settings.username)
            credentials["password"] = secrets.expand(settings.password or "${reddit_password}")
        self.reddit = praw.Reddit(
            **credentials,
            user_agent=user_agent(settings.name, settings.contact),
            oauth_url=settings.oauth_url.rstrip("/"),
            reddit_url=settings.reddit_url.rstrip("/"),
            check_for_updates=False,
            ratelimit_seconds=0,
            requestor_class=BudgetedRequestor,
            requestor_kwargs={"budget": self.budget, "on_request": self._count_request, "on_limits": self._note_limits,
                              "timeout": settings.timeout_seconds},
        )
        self.reddit.read_only = not settings.username

    def streams(self) -> list[str]:
        out = []
        if self.settings.subreddits:
            out.append("new")
            if self.settings.comments:
                out.append("comments")
        out += [f"search:{query}" for query in self.settings.search or ()]
        return out

    def requests_made(self) -> int:
        return self._requests

    def _count_request(self) -> None:
        self._requests += 1

    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        import prawcore

        listing = self._listing(stream)
        entries: list[Entry] = []
        try:
            for item in listing:
                created = float(getattr(item, "created_utc", 0) or 0)
                if since.behind(created, self.overlap):
                    break  # newest first: everything after this is older still
                entries.append(self.item_entry(self._entry, item, created, undated=since.t))
            else:
                if len(entries) >= self.settings.max_items:
                    self.depth_reached(stream)
        except prawcore.exceptions.BadJSON as error:
            raise MalformedResponse("malformed JSON from reddit", _path(error.response.url),
                                    error.response.text[:4000]) from None
        except prawcore.exceptions.RequestException as error:
            original = error.original_exception
            if isinstance(original, SourceUnavailable):  # our request budget, raised inside praw
                raise original from None
            kind = "timeout" if "Timeout" in type(original).__name__ else "error"
            raise SourceUnavailable(f"reddit unreachable ({type(original).__name__})", kind=kind) from None
        except (prawcore.exceptions.OAuthException, prawcore.exceptions.Forbidden,
                prawcore.exceptions.InvalidToken) as error:
            raise SourceUnavailable(f"reddit refused our credentials ({type(error).__name__})", kind="auth") from None
        except prawcore.exceptions.ResponseException as error:
            raise _unavailable(error.response) from None
        except (KeyError, ValueError, TypeError) as error:  # e.g. a token answer without its fields
            raise SourceUnavailable(f"reddit sent an answer praw could not read ({type(error).__name__})",
                                    kind="error") from None
        return entries

    def _listing(self, stream: str) -> Iterable[Any]:
        limit = self.settings.max_items
        if stream.startswith("search:"):
            query = stream.removeprefix("search:")
            return self.reddit.subreddit("all").search(query, sort="new", time_filter="week", limit=limit)
        subreddits = self.reddit.subreddit("+".join(self.settings.subreddits))
        return subreddits.new(limit=limit) if stream == "new" else subreddits.comments(limit=limit)

    def _note_limits(self, remaining: float, reset: float) -> None:
        """Defer the next poll to the rate-limit reset when Reddit says the window is nearly spent."""
        if remaining < self.settings.min_ratelimit_remaining:
            self.defer_until = self.clock() + reset
            log.info("reddit: %d requests left in this window; pausing %.0fs until its reset", remaining, reset)
        else:
            self.defer_until = None

    def _entry(self, item: Any, created: float) -> Entry:
        fullname = getattr(item, "fullname", None) or f"{type(item).__name__}_{getattr(item, 'id', '')}"
        try:
            text = _text_of(item)
        except Exception as error:  # an item praw could not fill: keep it for a human
            return Entry(fullname, created, Rejected(self.name, fullname, f"unreadable item ({error})", None))
        if text is None:
            return Entry(fullname, created, None)
        author = getattr(item, "author", None)
        permalink = getattr(item, "permalink", None)
        return Entry(fullname, created, Post(
            source=self.name,
            source_id=fullname,
            created_at=datetime.fromtimestamp(created, timezone.utc),
            text=text,
            author=self.author(str(author)) if author is not None else None,
            url=f"https://www.reddit.com{permalink}" if permalink else None,
            metadata={"subreddit": str(getattr(item, "subreddit", "")), "kind": fullname[:2]},
            # a comment is read with its thread's title (the listing carries it; the parent comment would
            # cost a request per comment)
            context=(getattr(item, "link_title", None) or None) if fullname.startswith("t1_") else None,
        ))



def _unavailable(response: Any) -> SourceUnavailable:
    status = response.status_code
    where = _path(response.url)
    if status == 429:
        return SourceUnavailable(f"reddit rate-limited us (429) at {where}",
                                 wait=retry_after_seconds(response.headers.get("retry-after")), kind="rate_limited")
    if status >= 500:
        return SourceUnavailable(f"reddit failed ({status}) at {where}",
                                 wait=retry_after_seconds(response.headers.get("retry-after")), kind="server_error")
    if status in (401, 403):
        return SourceUnavailable(f"reddit refused our credentials ({status})", kind="auth")
    return SourceUnavailable(f"reddit answered {status} for {where}", kind="error")


def _text_of(item: Any) -> str | None:
    """The text worth classifying, or None for a deleted or removed item."""
    import praw

    if isinstance(item, praw.models.Comment):
        body = (item.body or "").strip()
        return None if body in _GONE or not body else body
    title = (getattr(item, "title", "") or "").strip()
    body = (getattr(item, "selftext", "") or "").strip()
    if getattr(item, "removed_by_category", None) or body in _GONE:
        if body in _GONE or getattr(item, "author", None) is None:
            return None  # the author deleted it, or moderators removed it: do not keep what is gone
    text = f"{title}\n\n{body}".strip() if body and body not in _GONE else title
    return text or None


def _path(url: str) -> str:
    return str(url).split("?", 1)[0]


KIND = SourceKind(settings=RedditSettings, build=RedditSource)
