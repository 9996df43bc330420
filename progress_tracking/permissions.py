"""Who may read or clear a progress session through the API."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from .conf import app_settings


def is_active_staff(user: Any) -> bool:
    """Staff access: ``is_staff is True`` and active, and ``STAFF_ACCESS`` not turned off.

    Identity checks, not truthiness: a host user model whose ``is_staff`` is a method (always
    truthy) or a lazy object must not make every user staff.
    """
    return (
        app_settings.STAFF_ACCESS is True
        and getattr(user, "is_staff", False) is True
        and getattr(user, "is_active", False) is True
    )


class IsOwnerOrStaff(BasePermission):
    """Staff, or the user who owns the session's row.

    The object is a ``selectors.SessionRecord``. A row without an owner, or every row of a
    model without an owner field, is visible to staff only; with
    ``PROGRESS_TRACKING["STAFF_ACCESS"] = False`` staff see only their own sessions. The
    views answer a denial exactly like a missing session (404), so nobody can probe which
    ids exist.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if is_active_staff(user):
            return True
        owner_id = getattr(obj, "owner_id", None)
        return owner_id is not None and owner_id == user.pk
