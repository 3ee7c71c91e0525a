"""How many password guesses the dashboard allows: per client, and across the whole server.

The policy (``ThrottlePolicy`` defaults):

- **Per client.** 5 failed log-ins from one client within 15 minutes lock that client out for 5 minutes.
  Each further lockout doubles (10, 20, 40 minutes), capped at 1 hour. The failures that led to a lockout
  are cleared when it starts, so after it ends the client has 5 attempts again; the doubling is forgotten
  after 24 hours without a lockout. In the long run one address gets at most 5 guesses an hour.
- **Server-wide.** 50 failures within one minute, from any mix of clients, pause password log-in for
  everyone for one minute, so many addresses guessing in parallel get at most about 50 guesses a minute.
  Legitimate users wait too; that is the price of a ceiling (OIDC log-in is not affected).
- **A success** un-counts only that attempt. Earlier failures and lockouts stand, per client and
  server-wide: someone who knows the viewer password must not be able to log in with it after every
  fourth guess and so guess the on-call password without limit. A user who mistyped four times and then
  got in has one typo left for the rest of the 15 minutes.

Every attempt is counted as a failure the moment it is admitted, and un-counted when the caller reports
a success. Parallel attempts from many sessions therefore cannot all pass the check before the first
failure is recorded. The limiter never sees a password, only a client key.

Clients are keyed by ``client_key``: an IPv4 address as it is, an IPv6 address by its /64 (one host
usually holds a whole /64), and anything missing or unparseable by one shared fallback key.

Memory stays bounded without a limit of its own: a client's record exists only after a failure, failures
cannot outrun the server-wide ceiling, and idle records are dropped once a minute. The counts live in the
server process: a restart forgets them, and two dashboard processes behind one balancer count apart.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("detector.dashboard")

UNKNOWN_CLIENT = "address-unknown"
PRUNE_EVERY = 60.0


@dataclass(frozen=True)
class ThrottlePolicy:
    """The limits; the defaults are the ones the module docstring describes."""

    max_failures: int = 5
    window: float = 15 * 60
    first_lockout: float = 5 * 60
    max_lockout: float = 60 * 60
    forget_lockouts_after: float = 24 * 60 * 60
    server_max_failures: int = 50
    server_window: float = 60
    server_pause: float = 60

    def __post_init__(self) -> None:
        for name in ("max_failures", "window", "first_lockout", "max_lockout", "forget_lockouts_after",
                     "server_max_failures", "server_window", "server_pause"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ThrottlePolicy.{name} must be positive, not {getattr(self, name)!r}")
        if self.max_lockout < self.first_lockout:
            raise ValueError("ThrottlePolicy.max_lockout must be at least first_lockout")

    def lockout_for(self, earlier_lockouts: int) -> float:
        """How long the next lockout lasts after ``earlier_lockouts`` recent ones: doubling, capped."""
        return min(self.first_lockout * 2.0 ** min(earlier_lockouts, 64), self.max_lockout)


@dataclass(frozen=True)
class Refusal:
    """Why an attempt may not go ahead now: ``scope`` is "client" or "server"; ``seconds`` until it may."""

    scope: str
    seconds: float


@dataclass
class ClientRecord:
    """One client's recent failures (times, oldest first), its last attempt, and its lockout history."""

    failures: deque[float] = field(default_factory=deque)
    last_attempt: float = 0.0
    locked_until: float = 0.0
    lockouts: int = 0
    last_lockout: float = 0.0
    before_lockout: deque[float] = field(default_factory=deque)  # the failures the last lockout cleared


class LoginThrottle:
    """Admits or refuses password attempts per client key; thread-safe, one per server process.

    >>> now = [0.0]
    >>> throttle = LoginThrottle(ThrottlePolicy(max_failures=2, first_lockout=60), clock=lambda: now[0])
    >>> throttle.attempt("a"), throttle.attempt("a")
    (None, None)
    >>> throttle.attempt("a")
    Refusal(scope='client', seconds=60.0)
    >>> now[0] = 60.0
    >>> throttle.attempt("a") is None
    True
    """

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, ClientRecord] = {}
        self._server_failures: deque[float] = deque()
        self._server_paused_until = 0.0
        self._next_prune = 0.0

    def refusal(self, client: str) -> Refusal | None:
        """Whether ``client`` is refused right now (without counting anything), so the form can say so."""
        with self._lock:
            return self._refusal(client, self._clock())

    def attempt(self, client: str) -> Refusal | None:
        """None when ``client`` may try a password now, else why not and for how long.

        An admitted attempt counts as a failure at once; call ``succeeded`` if the password was right.
        """
        with self._lock:
            now = self._clock()
            self._prune(now)
            refused = self._refusal(client, now)
            if refused is not None:
                return refused
            self._count_failure(client, now)
            return None

    def succeeded(self, client: str) -> None:
        """The last admitted attempt of ``client`` was right: un-count it (and the lockout it started, if it
        was the one that reached the limit); earlier failures and lockouts stand."""
        with self._lock:
            record = self._clients.get(client)
            if record is None:
                return
            attempt = record.last_attempt
            if record.lockouts and record.last_lockout == attempt and record.locked_until > attempt:
                record.locked_until, record.lockouts = 0.0, record.lockouts - 1
                record.failures = deque(record.before_lockout)
            try:
                record.failures.remove(attempt)
            except ValueError:
                pass
            try:
                self._server_failures.remove(attempt)
            except ValueError:
                pass

    def _refusal(self, client: str, now: float) -> Refusal | None:
        if now < self._server_paused_until:
            return Refusal("server", self._server_paused_until - now)
        record = self._clients.get(client)
        if record is not None and now < record.locked_until:
            return Refusal("client", record.locked_until - now)
        return None

    def _count_failure(self, client: str, now: float) -> None:
        policy = self.policy
        record = self._clients.setdefault(client, ClientRecord())
        _drop_older(record.failures, now - policy.window)
        record.failures.append(now)
        record.last_attempt = now
        if record.lockouts and now - record.last_lockout >= policy.forget_lockouts_after:
            record.lockouts = 0
        if len(record.failures) >= policy.max_failures:
            lockout = policy.lockout_for(record.lockouts)
            record.locked_until, record.last_lockout = now + lockout, now
            record.lockouts += 1
            record.before_lockout = record.failures
            record.failures = deque()
            log.warning("dashboard log-in: %s locked out for %.0f s after %d failed passwords",
                        client, lockout, policy.max_failures)
        _drop_older(self._server_failures, now - policy.server_window)
        self._server_failures.append(now)
        if len(self._server_failures) >= policy.server_max_failures:
            self._server_paused_until = now + policy.server_pause
            self._server_failures.clear()
            log.warning("dashboard log-in: password log-in paused for %.0f s after %d failures in %.0f s",
                        policy.server_pause, policy.server_max_failures, policy.server_window)

    def _prune(self, now: float) -> None:
        """Drop clients with nothing left to remember, at most once a minute."""
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        policy = self.policy
        for client in list(self._clients):
            record = self._clients[client]
            _drop_older(record.failures, now - policy.window)
            lockout_remembered = record.lockouts and now - record.last_lockout < policy.forget_lockouts_after
            if not record.failures and now >= record.locked_until and not lockout_remembered:
                del self._clients[client]


def _drop_older(times: deque[float], cutoff: float) -> None:
    while times and times[0] <= cutoff:
        times.popleft()


def client_key(address: object) -> str:
    """The key a client's failures are counted under, from the address Streamlit reports (or None).

    IPv6 clients are keyed by their /64, since one host can pick any address in it. Anything that is not
    an IP address string (None on localhost or when no address is known) shares one fallback key.
    """
    if not isinstance(address, str):
        return UNKNOWN_CLIENT
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
