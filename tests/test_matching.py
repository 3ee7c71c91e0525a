import pytest

from detector.sources.matching import ServiceMatcher, ServiceRule

RULES = [
    ServiceRule("ChatGPT", ("chatgpt", "chat gpt")),
    ServiceRule("OpenAI", ("openai",), ("openai gym",)),
    ServiceRule("Xfinity", ("xfinity", "comcast")),
]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ChatGPT is down again", ("ChatGPT",)),
        ("is chat gpt broken for anyone", ("ChatGPT",)),
        ("Chat-GPT won't load", ("ChatGPT",)),
        ("#ChatGPTdown since 9am", ("ChatGPT",)),
        ("#IsChatGPTDown", ("ChatGPT",)),
        ("@OpenAI please fix", ("OpenAI",)),
        ("@OpenAISupport still waiting", ("OpenAI",)),
        ("OpenAI Gym is a nice library", ()),
        ("OpenAI Gym works but the OpenAI API is down", ("OpenAI",)),
        ("chatgpt and @comcast are both down", ("ChatGPT", "Xfinity")),
        ("mychatgptclone is a repo", ()),
        ("xfinityfan123 wrote a poem", ()),
        ("CHATGPT DOWN", ("ChatGPT",)),
        ("", ()),
    ],
)
def test_matches_names_aliases_hashtags_mentions_and_exclusions(text, expected):
    assert ServiceMatcher(RULES).services(text) == expected


def test_a_service_without_terms_matches_nothing_by_text():
    assert ServiceMatcher([ServiceRule("Support inbox", ())]).services("anything at all") == ()
