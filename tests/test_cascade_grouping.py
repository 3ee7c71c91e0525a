"""Grouping incidents into cascades over hand-made incident changes: a true cascade, coincidental
independent incidents, an upstream incident with no effect, timing alone, inhibition and resolve."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from detector.alerting.grouping import UNKNOWN_CAUSE, CascadeGrouper
from detector.alerting.manager import AlertChange, incident_id
from detector.alerting.settings import AlertSettings
from detector.config import parse_settings
from detector.records import Alert
from detector.status.base import OfficialIncident

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
DEPENDS = {"Discord": ["Cloudflare"], "Slack": ["Cloudflare"], "Zoom": ["Cloudflare"], "Payroll": [],
           "Billing": ["AWS"], "Chat": ["Azure"]}


def opened(service: str, minute: float, severity: str = "major") -> AlertChange:
    at = T0 + timedelta(minutes=minute)
    alert = Alert(incident_id(service, at), service, at, "open", severity, 8.0, 16.0, 2.0, "burst", updated_at=at)
    return AlertChange("opened", alert, at)


def resolved(change: AlertChange, minute: float) -> AlertChange:
    at = T0 + timedelta(minutes=minute)
    return AlertChange("resolved", replace(change.alert, status="resolved", resolved_at=at), at)


def official(upstream: str, minute: float) -> OfficialIncident:
    at = T0 + timedelta(minutes=minute)
    return OfficialIncident(upstream, f"status:{upstream}", "inc1", "Elevated errors", at, at, "investigating")


def grouper(official_incidents=(), **cascades) -> CascadeGrouper:
    settings = AlertSettings(cascades={"group_wait_minutes": 5, **cascades})
    return CascadeGrouper(settings, depends_on=DEPENDS, upstreams={"Cloudflare", "AWS", "Azure"},
                          official=lambda since, until: [o for o in official_incidents if since <= o.started_at <= until])


def feed(g: CascadeGrouper, events):
    """events: (minute, change or None); returns all decisions merged."""
    page, cascades, inhibited = [], [], {}
    for minute, change in events:
        decision = g.decide([change] if change else [], T0 + timedelta(minutes=minute))
        page += decision.page
        cascades += decision.cascades
        inhibited.update(decision.inhibited)
    return page, cascades, inhibited


def test_three_dependants_and_the_official_incident_are_one_cascade_one_page():
    g = grouper([official("Cloudflare", 3)])
    a, b, c = opened("Discord", 0), opened("Slack", 2), opened("Zoom", 4)
    page, cascades, inhibited = feed(g, [(0, a), (2, b), (4, c), (10, None)])
    assert page == []  # nobody paged alone
    # formed when the second dependant opened; announced once, group_wait after the first onset, naming all three
    assert [x.kind for x in cascades] == ["formed", "joined", "opened"]
    assert cascades[-1].at == T0 + timedelta(minutes=10) and cascades[-1].notify
    cascade = cascades[-1].cascade
    assert cascade.likely_cause == "Cloudflare" and cascade.services == ("Discord", "Slack", "Zoom")
    assert set(inhibited) == {a.alert.id, b.alert.id, c.alert.id}
    # recognised when the second dependant opened: two linked incidents within the window
    assert cascades[0].at == T0 + timedelta(minutes=2)
    terms = cascade.evidence["terms"]
    assert terms["dependency_declared"] == 0.2 and terms["timing"] == 0.1
    # the official incident was posted at minute 3, after the cascade formed: only later evidence has it
    assert cascade.confidence == pytest.approx(sum(terms.values()), abs=1e-3)


def test_the_official_incident_raises_the_confidence():
    with_page = grouper([official("Cloudflare", -1)])
    without = grouper([])
    events = [(0, opened("Discord", 0)), (2, opened("Slack", 2)), (4, opened("Zoom", 4))]
    c1 = feed(with_page, events)[1][-1].cascade
    c2 = feed(without, events)[1][-1].cascade
    assert c1.evidence["official"] and not c2.evidence["official"]
    assert c1.confidence - c2.confidence == pytest.approx(0.35)
    assert c1.likely_cause == c2.likely_cause == "Cloudflare"


def test_a_lone_dependant_waits_then_is_paged_alone():
    g = grouper([])
    a = opened("Discord", 0)
    page, cascades, _ = feed(g, [(0, a), (3, None)])
    assert page == [] and cascades == []  # held
    page, cascades, _ = feed(g, [(5, None)])
    assert page == [a] and cascades == []


def test_coincidental_incidents_whose_dependencies_disagree_are_not_grouped():
    g = grouper([official("AWS", -2)])
    billing, chat = opened("Billing", 0), opened("Chat", 1)
    page, cascades, _ = feed(g, [(0, billing), (1, chat), (10, None)])
    # Billing with AWS's own incident is a cascade of one; Chat (Azure) is not part of it and is paged alone
    assert [(c.kind, c.cascade.services) for c in cascades] == [("formed", ("Billing",)), ("opened", ("Billing",))]
    assert cascades[0].cascade.likely_cause == "AWS"
    assert page == [chat]


def test_an_upstream_incident_with_no_effect_on_our_services_pages_nobody():
    g = grouper([official("Cloudflare", 0)])
    at = T0 + timedelta(minutes=1)
    spike = Alert("cloudflare-x", "Cloudflare", at, "open", "critical", 30.0, 60.0, 2.0, "burst", updated_at=at)
    page, cascades, _ = feed(g, [(1, AlertChange("opened", spike, at)), (30, None)])
    assert page == [] and cascades == []


def test_unlinked_services_are_grouped_by_timing_with_unknown_cause():
    g = grouper([])
    first, second = opened("Payroll", 0), opened("Payroll2", 3)
    page, cascades, inhibited = feed(g, [(0, first), (3, second)])
    assert page == [first]  # no link: paged at once; the cascade's notification follows
    assert cascades[0].cascade.likely_cause == UNKNOWN_CAUSE and cascades[0].kind == "formed"
    assert cascades[0].cascade.confidence == 0.15 and set(inhibited) == {second.alert.id}
    assert [m.paged for m in cascades[0].cascade.members] == [True, False]


def test_posts_naming_the_upstream_link_a_service_without_a_declared_dependency():
    g = grouper([])
    for i in range(10):  # 3 of 10 complaints about Payroll name Cloudflare
        services = ("Payroll", "Cloudflare") if i < 3 else ("Payroll",)
        g.note_post(services, T0 + timedelta(seconds=10 * i), True, f"t:{i}")
    a, b = opened("Discord", 1), opened("Payroll", 2)
    page, cascades, _ = feed(g, [(1, a), (2, b)])
    cascade = cascades[0].cascade
    assert cascade.likely_cause == "Cloudflare" and cascade.services == ("Discord", "Payroll")
    payroll = next(m for m in cascade.members if m.service == "Payroll")
    assert payroll.naming_share == 0.3 and not payroll.declares
    assert cascade.evidence["posts"] == ["t:0", "t:1"]


def test_the_cascade_resolves_when_its_last_member_does_and_later_incidents_stay_alone():
    g = grouper([official("Cloudflare", 0)])
    a, b = opened("Discord", 0), opened("Slack", 1)
    feed(g, [(0, a), (1, b), (5, None)])
    page, cascades, _ = feed(g, [(30, resolved(a, 30))])
    assert page == [] and cascades == []
    page, cascades, _ = feed(g, [(40, resolved(b, 40))])
    assert [c.kind for c in cascades] == ["resolved"] and cascades[0].cascade.resolved_at == T0 + timedelta(minutes=40)
    late = opened("Payroll", 100)
    page, cascades, _ = feed(g, [(100, late)])
    assert page == [late] and cascades == []


def test_except_severity_still_pages_critical_members():
    settings = AlertSettings(cascades={"group_wait_minutes": 5}, inhibit={"except_severity": "critical"})
    g = CascadeGrouper(settings, depends_on=DEPENDS, upstreams={"Cloudflare"})
    a, b = opened("Discord", 0, "major"), opened("Slack", 1, "critical")
    page, cascades, inhibited = feed(g, [(0, a), (1, b)])
    assert page == [b] and set(inhibited) == {a.alert.id} and cascades[0].kind == "formed"


def test_config_depends_on_and_upstreams_validated_with_shipped_defaults():
    settings = parse_settings('[[upstreams]]\nname = "Cloudflare"\n[[services]]\nname = "Discord"\n'
                              'depends_on = ["Cloudflare", "AWS"]\n')
    ups = {u.name: u for u in settings.watched_upstreams()}
    assert ups["Cloudflare"].status_page == "https://www.cloudflarestatus.com" and ups["AWS"].status_format == "feed"
    from detector.sources.matching import ServiceMatcher

    matcher = ServiceMatcher([u.rule() for u in ups.values()])
    assert matcher.services("aws outage again, #CloudflareDown") == ("Cloudflare", "AWS")
    from detector.config import ConfigError

    with pytest.raises(ConfigError, match="unknown upstream.*Cloudfare.*use one of: AWS"):
        parse_settings('[[services]]\nname = "Discord"\ndepends_on = ["Cloudfare"]\n')
    with pytest.raises(ConfigError, match="both a service and an upstream"):
        parse_settings('[[upstreams]]\nname = "Discord"\n[[services]]\nname = "Discord"\n')


def test_an_incident_held_when_the_process_stopped_is_held_again_and_paged_if_alone():
    a = opened("Discord", 0)
    settings = AlertSettings(cascades={"group_wait_minutes": 5})
    g = CascadeGrouper(settings, depends_on=DEPENDS, upstreams={"Cloudflare"}, unpaged=[a.alert])
    page, cascades, _ = feed(g, [(2, None)])
    assert page == [] and cascades == []  # still inside its wait
    b = opened("Slack", 3)
    page, cascades, inhibited = feed(g, [(3, b)])
    assert cascades[0].cascade.services == ("Discord", "Slack") and set(inhibited) == {a.alert.id, b.alert.id}
    old = CascadeGrouper(settings, depends_on=DEPENDS, upstreams={"Cloudflare"}, unpaged=[a.alert])
    assert feed(old, [(180, None)])[0] == []  # hours later it is old news, not a page
    alone = CascadeGrouper(settings, depends_on=DEPENDS, upstreams={"Cloudflare"}, unpaged=[a.alert])
    assert feed(alone, [(4, None), (6, None)])[0] == [a]


def test_detector_run_polls_the_upstreams_status_pages_as_jobs(tmp_path):
    from detector.runtime.assembly import build_system
    from detector.runtime.live import build_jobs, close_jobs
    from tests.fakes.statuspage import FakeStatusPage, incident

    page = FakeStatusPage([incident("e1", "Edge errors", T0)])
    with page:
        settings = parse_settings(
            f'db = "{tmp_path / "r.db"}"\n[classifier]\nkind = "keywords"\n[[upstreams]]\nname = "Edgeco"\n'
            f'status_page = "{page.url}"\n[[services]]\nname = "Discord"\nmatch = ["discord"]\n'
            'depends_on = ["Edgeco", "Cloudflare"]\n')
        system = build_system(settings)
        jobs = build_jobs(system)
        try:
            by_name = {job.name: job for job in jobs}
            assert {"status:Edgeco", "status:Cloudflare"} <= set(by_name)  # the shipped default is not fetched here
            found = by_name["status:Edgeco"].source.incidents()
            assert [(i.service, i.title) for i in found] == [("Edgeco", "Edge errors")]
        finally:
            close_jobs(jobs)
            system.close()
