"""The webhook sink: a POST of the CloudEvents JSON, signed as Standard Webhooks says.

`webhook-id` is the event id (the same on every retry, so the receiver de-duplicates on it),
`webhook-timestamp` the time of this attempt, and `webhook-signature` the v1 HMAC-SHA256 of
`id.timestamp.body` with the `whsec_` secret. A 2xx answer delivers; 408, 425, 429, 5xx,
time-outs and connection errors are worth retrying (honouring Retry-After); any other answer
means the receiver refuses this event, and it becomes a dead letter.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import Self

import aiohttp
from standardwebhooks.webhooks import Webhook

from streamwatch.config.sinks import WebhookSinkSettings
from streamwatch.delivery.sinks import DeliveryError, type_filter
from streamwatch.events.model import Event

# Worth retrying: the receiver may get better. Any other 4xx will fail the same way again.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class WebhookSink:
    def __init__(self, settings: WebhookSinkSettings, session: aiohttp.ClientSession) -> None:
        # Never the url in names, logs or errors: it may carry a token.
        self.name = settings.sink_name
        self.accepts = type_filter(settings.event_types)
        self._url = settings.url
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        self._session = session  # the caller's: it outlives the sink
        self._signer = (
            None if settings.secret is None else Webhook(settings.secret.get_secret_value())
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

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
                self._url,
                data=body.encode(),
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would turn the POST into a GET
            ) as response:
                if response.status < 300:
                    return
                raise DeliveryError(
                    f"{self.name}: HTTP {response.status}",
                    retryable=response.status >= 500 or response.status in RETRYABLE_STATUSES,
                    retry_after_s=retry_after_s(response.headers.get("Retry-After")),
                )
        except (aiohttp.ClientError, TimeoutError) as error:
            # The exception's text may quote the url: only its kind goes out.
            raise DeliveryError(f"{self.name}: {type(error).__name__}", retryable=True) from None


def retry_after_s(header: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), None if absent."""
    if header is None:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
