"""Sinks: where events go. Each delivers one event or raises DeliveryError."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import aiohttp
from standardwebhooks.webhooks import Webhook

from streamwatch.config.model import JsonLinesSinkSettings, SinkSettings, WebhookSinkSettings
from streamwatch.events.model import Event


class DeliveryError(Exception):
    """A delivery that failed; `retryable` says whether sending it again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(Protocol):
    name: str

    async def deliver(self, event: Event) -> None: ...

    async def close(self) -> None: ...


class JsonLinesSink:
    """One CloudEvents JSON document per line, to standard output or appended to a file."""

    def __init__(self, settings: JsonLinesSinkSettings) -> None:
        self.name = "stdout" if settings.path == "-" else f"jsonl:{settings.path}"
        self._path = None if settings.path == "-" else Path(settings.path)
        self._file: TextIO | None = None

    async def deliver(self, event: Event) -> None:
        try:
            if self._file is None:
                self._file = sys.stdout if self._path is None else self._path.open("a")
            # A few hundred bytes: cheaper to write here than to hop to a thread.
            self._file.write(event.to_json() + "\n")
            self._file.flush()
        except OSError as error:
            raise DeliveryError(f"{self.name}: {error.strerror}", retryable=True) from None

    async def close(self) -> None:
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
        self._file = None


class WebhookSink:
    """POST of the CloudEvents JSON, signed as Standard Webhooks says when a secret is set."""

    # Worth retrying: the receiver may get better. Any other 4xx will fail the same way again.
    RETRYABLE_STATUSES = frozenset({408, 425, 429})

    def __init__(self, settings: WebhookSinkSettings, session: aiohttp.ClientSession) -> None:
        self.name = f"webhook:{settings.url}"
        self._url = settings.url
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        self._session = session
        self._signer = (
            None if settings.secret is None else Webhook(settings.secret.get_secret_value())
        )

    async def deliver(self, event: Event) -> None:
        body = event.to_json()
        headers = {"Content-Type": "application/cloudevents+json"}
        if self._signer is not None:
            now = datetime.now(UTC)
            headers |= {
                "webhook-id": event.id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(event.id, now, body),
            }
        try:
            async with self._session.post(
                self._url, data=body.encode(), headers=headers, timeout=self._timeout
            ) as response:
                if response.status < 300:
                    return
                retryable = response.status >= 500 or response.status in self.RETRYABLE_STATUSES
                raise DeliveryError(f"{self.name}: HTTP {response.status}", retryable=retryable)
        except (aiohttp.ClientError, TimeoutError) as error:
            reason = type(error).__name__
            raise DeliveryError(f"{self.name}: {reason}", retryable=True) from None

    async def close(self) -> None:
        pass  # the session belongs to the caller


def build_sink(settings: SinkSettings, session: aiohttp.ClientSession) -> Sink:
    if isinstance(settings, WebhookSinkSettings):
        return WebhookSink(settings, session)
    return JsonLinesSink(settings)
