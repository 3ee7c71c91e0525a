"""The ``[comms]`` table: the templates the public update is drafted from, in the team's own words."""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What a template may name; each is filled from a fact (``detector.comms.draft`` says which).
PLACEHOLDERS = (
    "service", "since", "opened", "duration", "people_total", "people_now", "symptoms", "places", "trend",
    "peak", "last_report", "resolved_at", "rebuttals", "status_page",
)
DEFAULT_TEMPLATES = {
    "holding": (
        "We are aware that some {service} customers are having problems with {symptoms} since {since}. "
        "{people_total} people have reported it so far. Reports mention {places}. "
        "We are investigating and will post an update shortly.\n{rebuttals}"
    ),
    "update": (
        "Update on {service}: we are still working on the problems with {symptoms} that began at {since}. "
        "{people_now} people reported problems in the last 15 minutes, {people_total} since it began. "
        "Reports mention {places}. Our status page says: {status_page}.\n{rebuttals}"
    ),
    "resolved": (
        "{service} is working normally again. Between {since} and {last_report} ({duration}) some customers "
        "had problems with {symptoms}; {people_total} people reported it. Reports mentioned {places}. "
        "We are sorry for the disruption.\n{rebuttals}"
    ),
}


def template_names(template: str) -> list[str]:
    """The placeholder names in ``template`` ('{service}' -> 'service'); ValueError on broken braces."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


class CommsSettings(BaseModel):
    """Templates for the drafted public update: ``holding`` (first statement), ``update`` (follow-up while
    it lasts) and ``resolved`` (follow-up once it is over)."""

    model_config = ConfigDict(extra="forbid")

    templates: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_TEMPLATES),
        description="holding / update / resolved statements with {placeholders}; a sentence whose "
        "placeholder has no fact behind it is left out. Placeholders: " + ", ".join(PLACEHOLDERS) + ".",
    )

    @field_validator("templates")
    @classmethod
    def _known_placeholders(cls, templates: dict[str, str]) -> dict[str, str]:
        unknown_kinds = sorted(set(templates) - set(DEFAULT_TEMPLATES))
        if unknown_kinds:
            raise ValueError(f"unknown template {unknown_kinds[0]!r}; use {', '.join(DEFAULT_TEMPLATES)}")
        for kind, template in templates.items():
            try:
                names = template_names(template)
            except ValueError as error:
                raise ValueError(f"template {kind!r}: {error} (write a literal brace as {{{{ or }}}})") from None
            for name in names:
                if name not in PLACEHOLDERS:
                    raise ValueError(f"template {kind!r} names unknown placeholder {{{name}}}; valid: "
                                     + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
        return {**DEFAULT_TEMPLATES, **templates}
