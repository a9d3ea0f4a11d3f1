"""A middleware that counts the requests it sees, to prove which requests skip the stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

seen: list[str] = []


class CountingMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        seen.append(request.path)
        return self.get_response(request)
