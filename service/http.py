"""HTTP errors and request bodies of the dispatch API: one-line 4xx details, JSON parsing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

__all__ = ["json_body", "json_body_doc", "located", "one_line", "problem", "shown"]


def one_line(text: str) -> str:
    """``text`` on one line (runs of white space become one space)."""
    return " ".join(str(text).split())


def shown(value: Any, most: int = 60) -> str:
    """An id from a request as it may appear in a message (quoted, shortened)."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def problem(status: int, detail: str) -> HTTPException:
    """An HTTP error whose ``detail`` is one line."""
    return HTTPException(status_code=status, detail=one_line(detail))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_body(raw: bytes) -> Any:
    """The request body as JSON, or a 400 naming where it is malformed."""
    if not raw.strip():
        raise problem(400, "request body: empty; send a JSON document")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise problem(400, "request body: not UTF-8 text; send JSON in UTF-8") from None
    except json.JSONDecodeError as exc:
        raise problem(
            400,
            f"request body: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise problem(400, f"request body: malformed JSON: {exc}") from None


def located(exc: Exception) -> str:
    """One line from a shipahead error (its message, and its fix when it adds one)."""
    message = getattr(exc, "message", None) or str(exc)
    fix = getattr(exc, "fix", None)
    if fix and fix not in message:
        message = f"{message}; {fix}"
    return one_line(message)


def json_body_doc(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI ``openapi_extra`` of a route that reads its JSON body itself (:func:`json_body`)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }
