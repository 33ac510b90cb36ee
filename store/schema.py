"""The declarative base of every table in the store.

Tables live in the modules that own them (dispatch plans and events, planner runs and orders);
each derives from :class:`Base` so one ``MetaData`` describes the whole store and Alembic's
autogenerate sees it. Constraint names follow one convention so migrations name them the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every store table (one shared ``MetaData``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Modules that define store tables; :func:`load_models` imports them so ``Base.metadata`` is
#: complete (each part of the product adds its module here and an Alembic branch for it).
MODEL_MODULES: tuple[str, ...] = (
    "shipahead.store.dispatch",
    "shipahead.store.runs",
    "shipahead.store.accuracy",
)


def load_models() -> None:
    """Import every module in :data:`MODEL_MODULES` (registers their tables)."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


class StoreMeta(Base):
    """Facts about the store itself (e.g. the shipahead version that created it)."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
