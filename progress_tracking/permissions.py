"""Who may read or clear a progress session through the API."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsOwnerOrStaff(BasePermission):
    """Staff, or the user who owns the session's row.

    The object is a ``selectors.SessionRecord``. A row without an owner, or every row when
    ``OWNER_FIELD`` is None, is visible to staff only. The views answer a denial exactly like
    a missing session (404), so nobody can probe which ids exist.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if getattr(user, "is_staff", False):
            return True
        owner_id = getattr(obj, "owner_id", None)
        return owner_id is not None and owner_id == user.pk
