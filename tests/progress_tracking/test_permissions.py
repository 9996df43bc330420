"""IsOwnerOrStaff: the object-level rule of the API (staff, or the row's owner)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from progress_tracking.conf import DEFAULTS
from progress_tracking.permissions import IsOwnerOrStaff
from progress_tracking.selectors import SessionRecord


def allowed(user, owner_id) -> bool:
    request = SimpleNamespace(user=user)
    record = SessionRecord(progress={}, owner_id=owner_id)
    permission = IsOwnerOrStaff()
    assert permission.has_permission(request, None) is True  # type: ignore[arg-type]
    return permission.has_object_permission(request, None, record)  # type: ignore[arg-type]


def user(pk=1, *, staff=False, authenticated=True, active=True):
    return SimpleNamespace(pk=pk, is_staff=staff, is_authenticated=authenticated, is_active=active)


@pytest.mark.parametrize(
    ("who", "owner_id", "expected"),
    [
        (user(1), 1, True),
        (user(1), 2, False),
        (user(1), None, False),  # a row without owner: staff only
        (user(9, staff=True), 2, True),
        (user(9, staff=True), None, True),
        (user(1, authenticated=False), 1, False),
        (user(1, staff=True, authenticated=False), 1, False),
        (user(9, staff=True, active=False), 2, False),  # inactive staff
        (user(9, staff=True, active=False), 9, True),  # the owner rule is separate
        (user(9, staff="yes"), 2, False),  # truthy is not True
        (user(9, staff=lambda: False), 2, False),  # a method is truthy: not staff
        (user(9, staff=lambda: False), 9, True),  # still the owner
    ],
)
def test_owner_or_staff(who, owner_id, expected):
    assert allowed(who, owner_id) is expected


def test_anonymous_user_is_never_allowed():
    assert allowed(AnonymousUser(), None) is False


def test_it_is_a_default_permission_class():
    assert "progress_tracking.permissions.IsOwnerOrStaff" in DEFAULTS["PERMISSION_CLASSES"]


@pytest.mark.parametrize(("staff_access", "expected"), [(True, True), (False, False)])
def test_staff_access_can_be_turned_off(settings, staff_access, expected):
    settings.PROGRESS_TRACKING = {"STAFF_ACCESS": staff_access}
    assert allowed(user(9, staff=True), 2) is expected
    assert allowed(user(9, staff=True), 9) is True  # their own sessions stay theirs


def test_a_host_user_whose_is_staff_is_a_method_reads_only_its_own(settings):
    class HostUser:
        pk = 5
        is_authenticated = True
        is_active = True

        def is_staff(self):  # the host's bug seen in the field: always truthy
            return False

    assert allowed(HostUser(), 6) is False
    assert allowed(HostUser(), 5) is True
