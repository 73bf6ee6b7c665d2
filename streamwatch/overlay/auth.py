"""Who may see the live view (and the status server): this machine only, or whoever holds the
token.

A browser cannot put a header on an `<img>` (the MJPEG stream) or an `EventSource` (the event
feed), so besides `Authorization: Bearer <token>` the token is accepted once in the query
(`?token=…`): a page opened that way answers with a cookie and a redirect to the same page
without the token, and the page's image, feed and scripts then carry the cookie. The token
thus leaves the address bar and the history at once, and the cookie holds a value derived
from the token, never the token. Scripts and other viewers (VLC, Home Assistant) may keep the
token in the stream URL. Nothing here logs a URL's query.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS_LOG: Final = logging.getLogger("streamwatch.overlay.access")
COOKIE_NAME: Final = "streamwatch_session"
QUERY_PARAMETER: Final = "token"
_COOKIE_CONTEXT: Final = b"streamwatch live view cookie v1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenGate:
    """aiohttp middleware: 401 for every request without the token (or its cookie)."""

    def __init__(
        self,
        token: str,
        *,
        guards: str = "live view",
        key: str = "overlay.token",
        cookie_name: str = COOKIE_NAME,
    ) -> None:
        """`guards` and `key` name what the token opens and its setting, in the 401's text;
        `cookie_name` differs per server (a browser's cookies ignore the port)."""
        if not token:
            raise ValueError(f"the {guards}'s token must not be empty")
        self._token = token.encode("utf-8")
        self._refusal = (
            f"This {guards} needs its token ({key}): open it once as …?token=<token>, "
            "or send 'Authorization: Bearer <token>'.\n"
        )
        self._cookie = hmac.new(self._token, _COOKIE_CONTEXT, hashlib.sha256).hexdigest()
        self._cookie_name = cookie_name

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._has_cookie(request) or self._has_bearer(request):
            return await handler(request)
        query_token = request.query.get(QUERY_PARAMETER)
        if query_token is None or not self._matches(query_token):
            raise web.HTTPUnauthorized(
                text=self._refusal,
                headers={"WWW-Authenticate": 'Bearer realm="streamwatch"'},
            )
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            raise self._redirect_with_cookie(request)
        return await handler(request)

    def _redirect_with_cookie(self, request: web.Request) -> web.HTTPSeeOther:
        kept = [(name, value) for name, value in request.query.items() if name != QUERY_PARAMETER]
        # Relative to the page itself, so it also works behind a proxy under a path prefix.
        location = request.rel_url.raw_path.rsplit("/", 1)[-1] or "./"
        if kept:
            location += "?" + urlencode(kept)
        redirect = web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})
        redirect.set_cookie(
            self._cookie_name, self._cookie, path="/", httponly=True, samesite="Strict"
        )
        return redirect

    def _has_cookie(self, request: web.Request) -> bool:
        cookie = request.cookies.get(self._cookie_name)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self._cookie.encode())

    def _has_bearer(self, request: web.Request) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self._matches(credentials.strip())

    def _matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode("utf-8"), self._token)


class PathOnlyAccessLogger(AbstractAccessLogger):
    """One debug line per request, with the path but never the query (it may hold the token)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %d %.0f ms", request.method, request.path, response.status, time * 1000
        )
