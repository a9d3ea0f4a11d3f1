"""ASGIMedia behind a recorder of the messages it sends, to observe delivery from outside.

``/media/...`` is ``ASGIMedia`` over ``MEDIA_TEST_ROOT``; every message it sends is recorded per
request. ``GET /spy`` answers the records as JSON (newest last): the path, the message types,
the body bytes sent through ``http.response.body``, and whether the response finished.
The recorder is a real ASGI wrapper on the server's real ``send``: what it sees is what the
server received.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mediaserve import ASGIMedia

Message = MutableMapping[str, Any]
media = ASGIMedia(os.environ["MEDIA_TEST_ROOT"], prefix="/media/")
records: list[dict[str, Any]] = []


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        await media(scope, receive, send)
        return
    if scope["path"] == "/spy":
        body = json.dumps(records).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    record: dict[str, Any] = {"path": scope["path"], "types": [], "body_bytes": 0, "done": False}
    records.append(record)

    async def spying_send(message: Message) -> None:
        kind = message["type"]
        if not record["types"] or record["types"][-1] != kind:
            record["types"].append(kind)
        if kind == "http.response.body":
            record["body_bytes"] += len(message.get("body", b""))
            record["done"] = not message.get("more_body", False)
        elif kind in ("http.response.pathsend", "http.response.zerocopysend"):
            record["done"] = True
        await send(message)

    await media(scope, receive, spying_send)
