"""What the kiosk says to the visitor, in the site's language: `[overlay.messages]`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from streamwatch.config.base import Section

Message = Annotated[str, Field(min_length=1, max_length=200)]


class OverlayMessages(Section):
    # The page's language (BCP 47: "en", "de-CH", "pt-BR"): how browsers read the messages
    # aloud, hyphenate them, and format the times on the pages.
    lang: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] = "en"
    welcome: Message = "Welcome"  # nothing to ask of the visitor
    maskless: Message = "Please put on your mask"
    mask_incorrect: Message = "Please wear your mask over your nose"
    # Any other alarm the config adds (overlay.alarm_events).
    alert: Message = "Please wait, someone will be with you shortly"
