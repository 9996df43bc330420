"""System checks, registered by ``AppConfig.ready()``: one id per problem, each with a hint.

- ``checks_model``: ``PROGRESS_TRACKING_MODEL`` and the owner field (E001, E002, E008, E009).
- ``checks_settings``: the ``PROGRESS_TRACKING`` values (E003-E005, E010-E012, E014) and
  values that cannot work together (E006, E007, W001, W002).
- ``checks_deployment``: authentication and the fast read path (W010, E013, W013, E015).

docs/configuration.md lists every id; the CHANGELOG maps the ids of earlier releases.
"""

from __future__ import annotations

from django.core import checks

from .checks_deployment import PER_PROCESS_CACHES, check_authentication, check_fast_path
from .checks_model import check_model
from .checks_settings import HEARTBEAT_MARGIN, check_setting_combinations, check_settings

__all__ = [
    "HEARTBEAT_MARGIN",
    "PER_PROCESS_CACHES",
    "check_authentication",
    "check_fast_path",
    "check_model",
    "check_setting_combinations",
    "check_settings",
    "register",
]


def register() -> None:
    checks.register(check_settings, checks.Tags.compatibility)
    checks.register(check_setting_combinations, checks.Tags.compatibility)
    checks.register(check_model, checks.Tags.models)
    checks.register(check_authentication, checks.Tags.security)
    checks.register(check_fast_path, checks.Tags.caches)
