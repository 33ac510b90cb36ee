"""Bearer-token check and request-body size limit, before any route runs (pure ASGI)."""

from __future__ import annotations

import contextlib
import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "GuardMiddleware"]

#: paths served without the token: the console's files and the API description hold no data
PUBLIC_PREFIXES = ("/static/", "/docs-assets/")
PUBLIC_PATHS = ("/", "/docs", "/openapi.json", "/favicon.ico")


class _BodyTooLarge(Exception):
    pass


class GuardMiddleware:
    """Refuse a request without the bearer ``token`` (401) or above ``max_bytes`` (413)."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_bytes: int) -> None:
        self.app = app
        self.token = token
        self.max_bytes = max_bytes

    async def _deny(
        self, send: Send, status: int, detail: str, headers: list | None = None
    ) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), self.token.encode()
                ):
                    return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            await self._deny(
                send,
                401,
                "Authorization: this server needs 'Authorization: Bearer <token>' (the --token "
                "it was started with)",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    length = int(value)
        if length is not None and length > self.max_bytes:
            await self._deny(send, 413, self._too_big(length))
            return
        seen = 0
        limit = self.max_bytes
        too_big = self._too_big

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(too_big(seen))
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge as exc:
            await self._deny(send, 413, str(exc))

    def _too_big(self, size: int) -> str:
        mb = self.max_bytes / 2**20
        return (
            f"request body: {size:,} bytes is above the limit of {mb:g} MB; send a smaller "
            "problem (or raise the limit with SHIPAHEAD_MAX_REQUEST_MB)"
        )
