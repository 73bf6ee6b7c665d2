"""HTTP for the cloud client: one aiohttp session, one multipart upload, the raw reply.

It knows nothing of the API's semantics; the client (client.py) decides what a status or a
body means. Faults below HTTP become a TransportError with a short reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp

import streamwatch

# A two-face answer is a few kB; a crowded one stays far below this. More is not an answer.
MAX_REPLY_BYTES = 8 * 1024 * 1024
USER_AGENT = f"streamwatch/{streamwatch.__version__}"


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    content_type: str


class TransportError(Exception):
    """No HTTP reply: `reason` is "timeout" or "connection". The text names no header."""

    def __init__(self, message: str, *, reason: Literal["timeout", "connection"]) -> None:
        super().__init__(message)
        self.reason = reason


class HttpTransport:
    """An aiohttp ClientSession that lives between `__aenter__` and `__aexit__`.

    One session per client, its connections kept alive and reused between calls (TLS
    handshakes are most of a call's latency on a small CPU); at most `max_connections` open.
    """

    def __init__(self, *, max_connections: int = 4) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpTransport:
        # trust_env stays off: proxy variables must not reroute the API key somewhere else
        # without the config saying so.
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            connector=aiohttp.TCPConnector(limit=self._max_connections),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post_file(
        self,
        url: str,
        *,
        field: str,
        filename: str,
        content_type: str,
        content: bytes,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> HttpReply:
        """POST one file as multipart/form-data; any HTTP status is a reply, not an error."""
        if self._session is None:
            raise RuntimeError("HttpTransport used outside `async with`")
        form = aiohttp.FormData()
        form.add_field(field, content, filename=filename, content_type=content_type)
        failure: TransportError
        try:
            async with self._session.post(
                url,
                data=form,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                # A redirect would carry our headers, the key among them, to another address.
                allow_redirects=False,
            ) as response:
                body = await _read_capped(response)
                return HttpReply(response.status, body, response.content_type)
        # aiohttp's errors may hold the request (RequestInfo, with its headers): they are
        # summarised by type, and the TransportError is raised outside the handler so that it
        # neither chains them (__cause__) nor remembers them (__context__).
        except TimeoutError:
            failure = TransportError(f"no complete answer within {timeout_s:g} s", reason="timeout")
        except aiohttp.ClientError as error:
            failure = TransportError(_describe(error), reason="connection")
        except OSError as error:  # a reset can surface as the OS's own error
            failure = TransportError(
                f"{type(error).__name__}: {error.strerror or error}", reason="connection"
            )
        raise failure


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_REPLY_BYTES:
        raise aiohttp.ClientPayloadError(f"reply of {response.content_length} bytes is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise aiohttp.ClientPayloadError(f"reply over {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(error: aiohttp.ClientError) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {error.host}:{error.port}: {error.os_error.strerror or error}"
    if isinstance(error, aiohttp.ClientResponseError):
        # Its str() is safe but its repr holds the request headers; keep only the facts.
        return f"{type(error).__name__}: HTTP {error.status} {error.message}"
    return f"{type(error).__name__}: {error}"
