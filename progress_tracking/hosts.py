"""Which models carry progress, and which of them holds a given session.

Every concrete model that inherits ``AbstractProgressModel`` is a progress host (the default
one, ``PROGRESS_TRACKING_MODEL``, comes first). A session id is a random UUID4 whose second
group (16 of its 122 random bits) is a tag derived from the host model's label, so a reader
knows which table to ask without a shared index table or a query per model:

- one host model: every lookup is one query on it;
- several: the models whose tag matches are asked first (in the common case exactly one, so
  one indexed query); only an id that is not there (an unknown id, or one written before tags
  existed) asks the other models, one indexed query each.

Ids of different hosts differ in their tag, so they cannot collide across hosts; within a
host the unique ``progress_session_id`` column holds. Should two labels share a tag (1 in
65,536), both models are simply asked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from django.apps import apps
from django.db import router
from django.db.models import Manager, Model

from .conf import app_settings

T = TypeVar("T")


def progress_models() -> list[type[Model]]:
    """Every model that stores progress in its own table, the default host first."""
    from .models import AbstractProgressModel, get_progress_model

    default = get_progress_model()
    found: list[type[Model]] = [default]
    for model in apps.get_models():
        if (
            issubclass(model, AbstractProgressModel)
            and model is not default
            and not model._meta.proxy
            and host_of(model) is model
        ):
            found.append(model)
    return found


def manager(model: type[Model], using: str | None = None) -> Manager[Any]:
    """The manager through which the app reads and writes progress rows: the base manager.

    Progress is the app's own bookkeeping on the host's rows, so it sees every row, whatever
    the host's default manager hides (soft-deleted rows, another tenant's rows): a session a
    worker can write is one the API can read, cancel and clear and that cleanup removes.
    ``using`` picks the database (a data migration's alias); otherwise the router decides.
    """
    base: Manager[Any] = model._base_manager
    return base if using is None else base.db_manager(using)


def host_of(model: type[Model]) -> type[Model]:
    """The model whose table holds the progress columns (a proxy or child names its parent)."""
    return model._meta.get_field("progress_session_id").model


def tag_of(model: type[Model]) -> str:
    """Four hex digits derived from the host model's label, stable across processes."""
    label = host_of(model)._meta.label_lower
    return hashlib.blake2b(label.encode(), digest_size=2).hexdigest()


def new_session_id(model: type[Model]) -> str:
    """A random UUID4 string tagged with ``model``'s tag."""
    digits = uuid.uuid4().hex
    return str(UUID(digits[:8] + tag_of(model) + digits[12:]))


def candidates(session_id: UUID) -> list[type[Model]]:
    """The host models to ask for ``session_id``, most likely first."""
    models = progress_models()
    if len(models) == 1:
        return models
    tag = session_id.hex[8:12]
    tagged = [m for m in models if tag_of(m) == tag]
    return tagged + [m for m in models if m not in tagged]


def write_aliases(session_id: UUID) -> list[str]:
    """The databases the writes of ``session_id`` go to: the write database of the host model
    its id is tagged with (of every host model for an id that carries no host's tag)."""
    models = candidates(session_id)
    tag = session_id.hex[8:12]
    tagged = [m for m in models if tag_of(m) == tag] or models
    return list(dict.fromkeys(router.db_for_write(m) for m in tagged))


def first_found(session_id: UUID, ask: Callable[[type[Model]], T | None]) -> T | None:
    """The first non-None answer of ``ask(model)`` over the candidates of ``session_id``."""
    for model in candidates(session_id):
        answer = ask(model)
        if answer is not None:
            return answer
    return None


UNSET: Any = object()


def owner_field(model: type[Model]) -> str | None:
    """The foreign key to the user that owns a row of ``model``; None: staff only.

    A model names it with a ``progress_owner_field`` class attribute; otherwise the
    ``OWNER_FIELD`` setting applies (default ``"user"``).
    """
    value = getattr(model, "progress_owner_field", UNSET)
    if value is UNSET:
        value = app_settings.OWNER_FIELD
    return value or None


def owner_attname(model: type[Model]) -> str | None:
    """The owner's column attribute (``user_id``), or None."""
    name = owner_field(model)
    if name is None:
        return None
    field = model._meta.get_field(name)
    return str(getattr(field, "attname", name))
