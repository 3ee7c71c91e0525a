"""Symptoms per service: a service's own list (or its kind's), assigned by similarity, ``other`` when nothing fits."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from detector.classify.keywords import KeywordClassifier
from detector.classify.model import load_default_classifier, shared_encoder
from detector.classify.normalise import normalise_text
from detector.classify.symptoms import KINDS, OTHER, SYMPTOM_KINDS, SymptomMatcher, SymptomSet
from detector.cli.replay import settings_for_replay
from detector.config import ConfigError, Settings, parse_settings
from detector.records import Post

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def post(text, i=0, services=("Acme",)):
    return Post(source="test", source_id=str(i), created_at=NOW, text=text, services=services)


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


def assign(encoder, texts, symptom_set):
    texts = [normalise_text(t) for t in texts]
    matcher = SymptomMatcher(encoder.encode, {"Acme": symptom_set})
    return [name for name, _ in matcher.assign(encoder.encode(texts), texts, [("Acme",)] * len(texts))]


def test_web_app_keeps_the_list_the_head_was_trained_on():
    assert set(SYMPTOM_KINDS["web_app"]) == {"login", "errors", "slow", "app", "web", "api", "payments", "data_loss"}
    assert "isp" in KINDS and {"internet", "tv", "phone", "wifi", "email"} <= set(SYMPTOM_KINDS["isp"])


def test_an_isp_post_gets_a_symptom_from_the_isp_list(encoder):
    got = assign(encoder, [
        "@acme my cable tv has no picture and half the channels are missing",
        "@acme no internet since this morning, the modem is offline",
        "@acme my home phone has no dial tone",
        "@acme can't receive any email since yesterday",
    ], SymptomSet.of("isp"))
    assert got == ["tv", "internet", "phone", "email"]


def test_a_services_own_list_replaces_its_kinds(encoder):
    own = SymptomSet.of("isp", {"tv": "channels missing, no picture, PVR", "internet": "no internet, modem offline"})
    assert own.names == ("tv", "internet")
    assert assign(encoder, ["the PVR lost all my recordings and no picture on the tv"], own) == ["tv"]


def test_other_only_when_no_description_fits(encoder):
    tv_and_phone = SymptomSet.of("isp", {"tv": "cable TV channels missing, no picture", "phone": "landline no dial tone"})
    got = assign(encoder, ["the pizza place downtown got my order wrong again",
                           "my cable tv shows no picture on any channel"], tv_and_phone)
    assert got == [OTHER, "tv"]


def test_the_classifier_uses_each_services_list():
    classifier = load_default_classifier(symptom_sets={"Xfinity": SymptomSet.of("isp")})
    verdicts = classifier.classify([
        post("@xfinity cable tv is down again, no picture on any channel, the cable box is dead", 0, ("Xfinity",)),
        post("can't log into chatgpt, it keeps saying my password is wrong", 1, ("ChatGPT",)),
    ])
    assert [v.complaint for v in verdicts] == [True, True]
    assert verdicts[0].symptom == "tv" and 0 < verdicts[0].symptom_p <= 1
    assert verdicts[1].symptom == "login"  # no list configured: the web_app list, refined by the trained head


def test_keyword_classifier_reads_a_services_own_words():
    classifier = KeywordClassifier({"Xfinity": SymptomSet.of("isp")})
    tv, plain, web = classifier.classify([
        post("xfinity cable tv down, no channels at all", 0, ("Xfinity",)),
        post("xfinity is down again", 1, ("Xfinity",)),
        post("chatgpt is down, the website shows an error", 2, ("ChatGPT",)),
    ])
    assert (tv.symptom, plain.symptom, web.symptom) == ("tv", OTHER, "errors")


@pytest.mark.parametrize("toml, place, says", [
    ('[[services]]\nname = "X"\nkind = "telco"\n', "services[0].kind (line 3)", "use one of web_app, isp, bank"),
    ('[[services]]\nname = "X"\nsymptoms = { Internet = "no internet" }\n', "services[0].symptoms (line 3)",
     "not a short lower-case name"),
    ('[[services]]\nname = "X"\nsymptoms = { tv = " " }\n', "services[0].symptoms (line 3)", "has no description"),
    ('[[services]]\nname = "X"\nsymptoms = { other = "anything" }\n', "services[0].symptoms (line 3)",
     "remove it from the list"),
    ('[[services]]\nname = "X"\nsymptoms = {}\n', "services[0].symptoms (line 3)", "list is empty"),
])
def test_config_errors_name_the_field_line_and_fix(toml, place, says):
    with pytest.raises(ConfigError) as error:
        parse_settings(toml)
    assert place in str(error.value) and says in str(error.value)


def test_config_kind_and_symptoms_become_the_services_list():
    settings = parse_settings('[[services]]\nname = "Xfinity"\nkind = "isp"\n\n[[services]]\nname = "Bank"\n'
                              'kind = "bank"\nsymptoms = { cards = "card declined", app = "app crashes" }\n')
    assert settings.services[0].symptom_set() == SymptomSet.of("isp")
    assert settings.services[1].symptom_set().names == ("cards", "app")
    assert parse_settings('[[services]]\nname = "A"\n').services[0].symptom_set() == SymptomSet.of("web_app")


def test_replay_kind_sets_the_services_kind():
    replayed = settings_for_replay(Settings(), service="Xfinity", match=("xfinity",), exclude=(), db=None,
                                   classifier=None, kind="isp")
    assert replayed.services[0].kind == "isp"
    default = settings_for_replay(Settings(), service="Xfinity", match=(), exclude=(), db=None, classifier=None)
    assert default.services[0].kind == "web_app"
