"""Who is looking: a password from the secrets, or Streamlit's OIDC login, decides the viewer's role.

Roles: ``viewer`` reads, ``analyst`` also labels posts, ``oncall`` also acknowledges, resolves and
silences. Passwords come only from the secrets (``DETECTOR_DASHBOARD_PASSWORD`` for viewers,
``DETECTOR_DASHBOARD_ANALYST_PASSWORD``, ``DETECTOR_DASHBOARD_ONCALL_PASSWORD``, or the same names in the
secrets file). With OIDC configured (an ``[auth]`` section in Streamlit's secrets.toml) the e-mail
addresses listed in the secrets ``dashboard_oncall`` / ``dashboard_analysts`` get those roles. With
neither configured the dashboard is a local tool: ``detector dashboard`` then listens on 127.0.0.1 only
and the person at the keyboard is on-call.

Password guesses are limited by ``dashboard.throttle`` (5 failures in 15 minutes lock a client out for 5
minutes, doubling to at most an hour; 50 failures a minute server-wide pause password log-in for a
minute). While refused, the form says so and the password is not checked at all, so a lucky guess during
a lockout gets nobody in. A client is ``st.context.ip_address``: the TCP peer, or the address a reverse
proxy put in X-Forwarded-For only when that peer is one uvicorn trusts: ``detector dashboard`` trusts
none unless ``FORWARDED_ALLOW_IPS`` names the proxy (127.0.0.1 for a proxy on the same host), since
uvicorn's own default, loopback, let any local client name a fresh address per guess. The X-Forwarded-For header
is never read here, since without a trusted proxy anyone can write it and pick a fresh key per guess.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Mapping

from dashboard.throttle import LoginThrottle, Refusal, client_key

ROLES = ("viewer", "analyst", "oncall")
ROLE_ACTIONS: Mapping[str, frozenset[str]] = {
    "viewer": frozenset(),
    "analyst": frozenset({"label"}),
    "oncall": frozenset({"label", "ack", "resolve", "silence"}),
}
PASSWORD_SECRETS = {"oncall": "dashboard_oncall_password", "analyst": "dashboard_analyst_password",
                    "viewer": "dashboard_password"}


@dataclass(frozen=True)
class Viewer:
    """The person using the dashboard and what they may change."""

    name: str
    role: str

    def can(self, action: str) -> bool:
        return action in ROLE_ACTIONS.get(self.role, frozenset())


def configured_passwords(secrets) -> dict[str, str]:
    """Role -> password for every password set in the secrets (environment or secrets file)."""
    found = {role: secrets.get(name) for role, name in PASSWORD_SECRETS.items()}
    return {role: value for role, value in found.items() if value}


def role_for_password(passwords: Mapping[str, str], given: str) -> str | None:
    """The highest role whose password matches ``given`` (compared in constant time), or None."""
    if not given:
        return None
    for role in reversed(ROLES):
        expected = passwords.get(role)
        if expected and hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8")):
            return role
    return None


def role_for_email(secrets, email: str | None) -> str:
    """An OIDC user's role from the comma-separated address lists in the secrets; viewer by default."""
    address = (email or "").strip().lower()
    for role, name in (("oncall", "dashboard_oncall"), ("analyst", "dashboard_analysts")):
        listed = {a.strip().lower() for a in (secrets.get(name) or "").split(",") if a.strip()}
        if address and address in listed:
            return role
    return "viewer"


def oidc_configured(st) -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises rather than returning empty
        return False


def wait_text(seconds: float) -> str:
    """A wait as people read it: '45 s', '5 min', '4 min 30 s' (rounded up, never '0 s')."""
    whole = max(1, math.ceil(seconds))
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def refusal_text(refusal: Refusal) -> str:
    """The one line the log-in form shows while attempts are refused."""
    if refusal.scope == "server":
        return (f"Too many failed log-ins on this dashboard: password log-in is paused. "
                f"Try again in {wait_text(refusal.seconds)}.")
    return f"Too many failed log-ins from your address. Try again in {wait_text(refusal.seconds)}."


def gate(st, secrets, throttle: LoginThrottle) -> Viewer:
    """The current viewer; shows the log-in form and stops the script until there is one.

    ``throttle`` must be shared by every session of the server (``data.login_throttle()``), or a new
    tab would start with a clean slate.
    """
    if oidc_configured(st):
        if not st.user.get("is_logged_in", False):
            st.title("Outage detector")
            st.button("Log in", on_click=st.login, type="primary")
            st.stop()
        email = st.user.get("email")
        return Viewer(str(email or st.user.get("name") or "user"), role_for_email(secrets, email))
    passwords = configured_passwords(secrets)
    if not passwords:
        return Viewer("local", "oncall")
    role = st.session_state.get("_role")
    if role in ROLES:
        return Viewer(st.session_state.get("_who") or role, role)
    st.title("Outage detector")
    with st.form("login"):
        who = st.text_input("Your name (recorded with your actions)", key="login_name")
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    client = client_key(st.context.ip_address)
    refused = throttle.attempt(client) if submitted else throttle.refusal(client)
    if submitted and refused is None:
        role = role_for_password(passwords, given)
        if role is not None:
            throttle.succeeded(client)
            st.session_state["_role"], st.session_state["_who"] = role, (who.strip() or role)[:128]
            st.session_state.pop("login_password", None)
            st.rerun()
        refused = throttle.refusal(client)  # this failure may have started a lockout: say so at once
        if refused is None:
            st.error("Wrong password.")
    if refused is not None:
        st.error(refusal_text(refused))
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run
