"""Carrying a dataclass's fields over to the dataclass of the next stage of a computation."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

__all__ = ["shared_fields"]


def shared_fields(part: Any, cls: type) -> dict[str, Any]:
    """The fields of the dataclass instance ``part`` that the dataclass ``cls`` also declares,
    by name, as keyword arguments for ``cls`` (the values themselves, not copies)."""
    names = {f.name for f in fields(cls)}
    return {f.name: getattr(part, f.name) for f in fields(part) if f.name in names}
