"""Who is looking: a password from the secrets, or Streamlit's OIDC login, decides the viewer's role.

Roles: ``viewer`` reads, ``analyst`` also labels posts, ``oncall`` also acknowledges, resolves and
silences. Passwords come only from the secrets (``DETECTOR_DASHBOARD_PASSWORD`` for viewers,
``DETECTOR_DASHBOARD_ANALYST_PASSWORD``, ``DETECTOR_DASHBOARD_ONCALL_PASSWORD``, or the same names in the
secrets file). With OIDC configured (an ``[auth]`` section in Streamlit's secrets.toml) the e-mail
addresses listed in the secrets ``dashboard_oncall`` / ``dashboard_analysts`` get those roles. With
neither configured the dashboard is a local tool: ``detector dashboard`` then listens on 127.0.0.1 only
and the person at the keyboard is on-call.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Mapping

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


def gate(st, secrets) -> Viewer:
    """The current viewer; shows the log-in form and stops the script until there is one."""
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
    if submitted:
        role = role_for_password(passwords, given)
        if role is None:
            st.error("Wrong password.")
        else:
            st.session_state["_role"], st.session_state["_who"] = role, (who.strip() or role)[:128]
            st.session_state.pop("login_password", None)
            st.rerun()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run
