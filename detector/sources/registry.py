"""Every kind of source, by the ``type`` its config entry names: one explicit table, no folder scanning."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from detector.sources.replay_settings import ReplaySettings

SourceSettings = Annotated[Union[ReplaySettings], Field(discriminator="type")]
