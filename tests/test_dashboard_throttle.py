"""The password limiter: per-client lockouts that double, a server-wide ceiling, and a log-in form that
refuses even the right password while locked out, in every session of the server."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import streamlit as st
from streamlit.runtime.app_session import AppSession
from streamlit.testing.v1 import AppTest

from dashboard import access, data, sample
from dashboard.throttle import UNKNOWN_CLIENT, LoginThrottle, Refusal, ThrottlePolicy, client_key

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
MINUTE = 60.0


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def throttle_with(clock: FakeClock, **policy) -> LoginThrottle:
    return LoginThrottle(ThrottlePolicy(**policy), clock=clock)


def fail(throttle: LoginThrottle, client: str, times: int) -> list[Refusal | None]:
    """``times`` wrong passwords from ``client``: what each attempt was told."""
    return [throttle.attempt(client) for _ in range(times)]


# The limiter, on a fake clock


def test_five_failures_lock_the_client_out_for_five_minutes(clock):
    throttle = LoginThrottle(clock=clock)
    assert fail(throttle, "10.0.0.1", 5) == [None] * 5
    assert throttle.attempt("10.0.0.1") == Refusal("client", 5 * MINUTE)
    clock.advance(5 * MINUTE - 1)
    assert throttle.attempt("10.0.0.1") == Refusal("client", 1)
    assert throttle.refusal("10.0.0.1") == Refusal("client", 1)
    clock.advance(1)
    assert throttle.refusal("10.0.0.1") is None
    assert throttle.attempt("10.0.0.1") is None


def test_refused_attempts_do_not_extend_the_lockout(clock):
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "a", 5)
    for _ in range(100):
        throttle.attempt("a")
    clock.advance(5 * MINUTE)
    assert throttle.attempt("a") is None


def test_failures_older_than_the_window_do_not_count(clock):
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "a", 4)
    clock.advance(15 * MINUTE)  # those four leave the window
    assert fail(throttle, "a", 4) == [None] * 4
    assert throttle.refusal("a") is None
    clock.advance(15 * MINUTE - 1)  # these four are still inside it
    assert throttle.attempt("a") is None
    assert throttle.refusal("a") == Refusal("client", 5 * MINUTE)


def test_each_further_lockout_doubles_up_to_an_hour(clock):
    throttle = LoginThrottle(clock=clock)
    seen = []
    for _ in range(7):
        fail(throttle, "a", 5)
        refusal = throttle.refusal("a")
        seen.append(refusal.seconds / MINUTE)
        clock.advance(refusal.seconds)
    assert seen == [5, 10, 20, 40, 60, 60, 60]


def test_the_doubling_is_forgotten_after_a_day_without_a_lockout(clock):
    throttle = LoginThrottle(clock=clock)
    for _ in range(3):
        fail(throttle, "a", 5)
        clock.advance(throttle.refusal("a").seconds)
    clock.advance(24 * 60 * MINUTE)
    fail(throttle, "a", 5)
    assert throttle.refusal("a") == Refusal("client", 5 * MINUTE)


def test_a_success_uncounts_only_itself(clock):
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "a", 4)
    assert throttle.attempt("a") is None  # the fifth attempt reaches the limit and is admitted...
    throttle.succeeded("a")  # ...and was the right password: no lockout for it
    assert throttle.refusal("a") is None
    fail(throttle, "a", 1)  # but the four typos stand: one more within the window locks
    assert throttle.refusal("a") == Refusal("client", 5 * MINUTE)


def test_knowing_one_password_does_not_reset_the_count_for_guessing_another(clock):
    """The insider: logs in as viewer after every few guesses at the on-call password."""
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "insider", 3)
    assert throttle.attempt("insider") is None
    throttle.succeeded("insider")  # the viewer password
    fail(throttle, "insider", 2)
    assert throttle.refusal("insider") == Refusal("client", 5 * MINUTE)
    clock.advance(5 * MINUTE)
    fail(throttle, "insider", 4)
    assert throttle.attempt("insider") is None
    throttle.succeeded("insider")
    fail(throttle, "insider", 1)
    assert throttle.refusal("insider") == Refusal("client", 10 * MINUTE)  # the doubling stood too


def test_clients_are_counted_apart(clock):
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "10.0.0.1", 5)
    assert throttle.refusal("10.0.0.1") is not None
    assert throttle.refusal("10.0.0.2") is None
    assert fail(throttle, "10.0.0.2", 4) == [None] * 4
    throttle.succeeded("10.0.0.2")
    assert throttle.refusal("10.0.0.1") == Refusal("client", 5 * MINUTE)


def test_fifty_failures_a_minute_from_many_clients_pause_everyone(clock):
    throttle = LoginThrottle(clock=clock)
    for n in range(49):
        assert throttle.attempt(f"10.0.{n}.1") is None
        clock.advance(1)
    assert throttle.attempt("10.0.99.1") is None  # the 50th failure within the minute
    for client in ("10.0.0.1", "10.0.200.1", UNKNOWN_CLIENT):
        assert throttle.attempt(client) == Refusal("server", MINUTE)
    clock.advance(MINUTE)
    assert throttle.attempt("10.0.200.1") is None


def test_failures_spread_wider_than_the_server_window_do_not_pause(clock):
    throttle = LoginThrottle(clock=clock)
    for n in range(200):
        assert throttle.attempt(f"10.1.{n}.1") is None
        clock.advance(1.25)  # 48 a minute


def test_a_success_does_not_reset_the_server_wide_count(clock):
    throttle = throttle_with(clock, server_max_failures=11, max_failures=100)  # only the ceiling in play
    for _ in range(3):  # guess, guess, guess, then log in with a known password: repeat
        fail(throttle, "insider", 3)
        assert throttle.attempt("insider") is None
        throttle.succeeded("insider")
    assert fail(throttle, "insider", 2) == [None, None]  # 9 failures kept, the 3 successes not counted
    assert throttle.refusal("elsewhere") == Refusal("server", MINUTE)  # 11 reached


def test_parallel_attempts_cannot_slip_past_the_limit():
    throttle = LoginThrottle()
    start = threading.Barrier(20)
    admitted = []

    def guess() -> None:
        start.wait()
        if throttle.attempt("a") is None:
            admitted.append(1)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 5


def test_idle_clients_are_forgotten(clock):
    throttle = LoginThrottle(clock=clock)
    for n in range(30):
        throttle.attempt(f"10.2.{n}.1")
    fail(throttle, "locked", 5)
    clock.advance(16 * MINUTE)
    throttle.attempt("trigger")
    assert set(throttle._clients) == {"locked", "trigger"}  # the lockout's doubling is still remembered


def test_policy_is_checked():
    with pytest.raises(ValueError, match="max_failures"):
        ThrottlePolicy(max_failures=0)
    with pytest.raises(ValueError, match="max_lockout"):
        ThrottlePolicy(first_lockout=600, max_lockout=60)


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64, same client
    ("::ffff:203.0.113.7", "203.0.113.7"),
    (None, UNKNOWN_CLIENT),
    ("", UNKNOWN_CLIENT),
    ("unknown", UNKNOWN_CLIENT),
    ("203.0.113.7, 10.0.0.1", UNKNOWN_CLIENT),  # a raw header is not an address
    (object(), UNKNOWN_CLIENT),
])
def test_client_keys(address, key):
    assert client_key(address) == key


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (45, "45 s"), (59.01, "1 min"), (300, "5 min"),
                                           (270, "4 min 30 s"), (3600, "60 min")])
def test_wait_text(seconds, text):
    assert access.wait_text(seconds) == text


# The log-in form, through AppTest (every AppTest session shares this process's cache_resource, like the
# sessions of one Streamlit server; AppTest reports no real address, so all of them are one client)


@pytest.fixture
def db(tmp_path, monkeypatch) -> sample.Sample:
    built = sample.build(tmp_path / "throttle.db", posts=300)
    monkeypatch.setenv("DETECTOR_DB", str(built.path))
    monkeypatch.setenv("DETECTOR_DASHBOARD_PASSWORD", "read-only-pw")
    monkeypatch.setenv("DETECTOR_DASHBOARD_ONCALL_PASSWORD", "on-call-pw")
    monkeypatch.delenv("DETECTOR_DASHBOARD_ANALYST_PASSWORD", raising=False)
    st.cache_data.clear()
    data.login_throttle.cache_clear()
    yield built
    data.login_throttle.cache_clear()


def new_session() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["page"] = "alerts"
    return at.run()


def submit(at: AppTest, password: str) -> AppTest:
    at.text_input(key="login_name").input("eve")
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def logged_in(at: AppTest) -> bool:
    return [h.value for h in at.header] == ["Alerts"]


def test_after_five_wrong_passwords_even_the_right_one_is_refused_in_every_session(db, monkeypatch):
    at = new_session()
    for _ in range(4):
        assert errors(submit(at, "guess")) == ["Wrong password."]
    assert errors(submit(at, "guess")) == ["Too many failed log-ins from your address. Try again in 5 min."]

    checked = []
    real_check = access.role_for_password
    monkeypatch.setattr(access, "role_for_password", lambda *args: checked.append(1) or real_check(*args))
    submit(at, "on-call-pw")
    assert not logged_in(at)
    assert len(errors(at)) == 1 and errors(at)[0].startswith("Too many failed log-ins from your address. Try again")

    fresh = new_session()  # a new tab, cookies cleared: same server, same limiter
    assert not logged_in(fresh)
    assert errors(fresh)[0].startswith("Too many failed log-ins")  # said before anyone types
    submit(fresh, "on-call-pw")
    assert not logged_in(fresh)
    assert errors(fresh)[0].startswith("Too many failed log-ins from your address")
    assert checked == []  # the password was never even compared
    assert not any("on-call-pw" in text for text in errors(at) + errors(fresh))

    data.login_throttle.cache_clear()  # a server restart forgets the lockout: the same password now works
    assert logged_in(submit(new_session(), "on-call-pw"))
    assert checked == [1]


def test_a_clients_clear_cache_message_does_not_reset_the_count(db):
    at = new_session()
    for _ in range(5):
        submit(at, "guess")
    # What the server does when any browser sends "clear cache" (no check that it is a developer's):
    AppSession._handle_clear_cache_request(SimpleNamespace(_session_state={}))
    fresh = new_session()
    assert not logged_in(submit(fresh, "on-call-pw"))
    assert errors(fresh)[0].startswith("Too many failed log-ins from your address")


def test_a_right_password_uncounts_itself_but_not_the_typos_before_it(db):
    at = new_session()
    for _ in range(4):
        submit(at, "guess")
    assert logged_in(submit(at, "read-only-pw"))  # the fifth attempt, right: no lockout
    other = new_session()
    assert errors(submit(other, "guess")) == ["Too many failed log-ins from your address. Try again in 5 min."]


def test_the_server_wide_pause_is_shown_as_such(db):
    throttle = data.login_throttle()  # the very instance the app's sessions use
    for n in range(50):
        throttle.attempt(f"198.51.100.{n}")
    at = new_session()
    assert errors(at)[0].startswith("Too many failed log-ins on this dashboard: password log-in is paused.")
    assert not logged_in(submit(at, "read-only-pw"))
