"""Django's Tasks framework: ``django.tasks`` on Django 6, the ``django_tasks`` backport on 5.2."""

from importlib.util import find_spec

if find_spec("django.tasks"):
    from django.tasks import task
else:  # pragma: no cover - depends on the Django version
    from django_tasks import task

__all__ = ["task"]
