"""docs/workers.md shows exactly the Celery app that the worker test runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_workers_md_shows_the_tested_celery_app():
    source = (ROOT / "tests" / "celery_app.py").read_text()
    code = source[source.index("from __future__") :].rstrip()
    assert f"```python\n{code}\n```" in (ROOT / "docs" / "workers.md").read_text()
