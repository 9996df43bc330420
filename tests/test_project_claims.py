"""What the project claims about itself matches what it runs.

- Every Django minor version that ``pyproject.toml`` admits is named by a classifier, runs in
  a CI leg of ``.ci/run``, and is named by the README; no "6.x" style claim remains.
- The pre-commit hooks pin the ruff version of the ``lint`` dependency group.
- CONTRIBUTING names every CI leg, and ``dev.py --django`` installs the version it names.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import dev

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Django numbers its feature releases X.0, X.1, X.2 (the LTS), then the next major.
DJANGO_MINORS = [f"{major}.{minor}" for major in range(4, 9) for minor in range(3)]
# The README's leg (python3 dev.py test) runs on Python 3.11, where the newest Django
# installable is 5.2.
README_LEG_DJANGO = "5.2"


def requirement(name: str, group: list[str]) -> Requirement:
    found = [Requirement(line) for line in group if isinstance(line, str)]
    return next(r for r in found if r.name.lower() == name)


def admitted_minors() -> list[str]:
    django = requirement("django", PYPROJECT["project"]["dependencies"])
    return [minor for minor in DJANGO_MINORS if django.specifier.contains(f"{minor}.1")]


def test_admitted_django_versions_are_the_classified_ones():
    classified = [
        c.rsplit(" :: ", 1)[1]
        for c in PYPROJECT["project"]["classifiers"]
        if re.fullmatch(r"Framework :: Django :: \d+\.\d+", c)
    ]
    assert classified == admitted_minors() == ["5.2", "6.0", "6.1"]


def test_every_admitted_django_version_has_a_ci_leg_pinned_to_it():
    ci = (ROOT / ".ci" / "run").read_text()
    loops = re.findall(r"^\s*for django in ([\d. ]+); do$", ci, re.MULTILINE)
    assert len(loops) == 1, loops
    pinned = loops[0].split()
    assert '--django "$django"' in ci, "each leg installs the version it is named after"
    assert [README_LEG_DJANGO, *pinned] == admitted_minors()


def test_the_readme_and_docs_name_exactly_the_supported_versions():
    readme = (ROOT / "README.md").read_text()
    supported = next(p for p in readme.split("\n\n") if p.startswith("Supported:"))
    named = sorted(set(re.findall(r"Django (\d+\.\d+)", supported)))
    assert named == admitted_minors(), supported
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        assert not re.search(r"\b\d+\.x\b", path.read_text()), f"{path.name} claims a range"


def test_pre_commit_pins_the_ruff_of_the_lint_group():
    lint = requirement("ruff", PYPROJECT["dependency-groups"]["lint"])
    (pinned,) = [spec.version for spec in lint.specifier if spec.operator == "=="]
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    hooks = re.findall(r'additional_dependencies: \["ruff==([^"]+)"\]', config)
    assert hooks and set(hooks) == {pinned}
    for command in ("ruff check .", "ruff format --check .", ".venv/bin/mypy"):
        assert f"entry: {command}\n" in config, f"pre-commit runs {command!r} as CI does"


def test_contributing_names_every_ci_leg():
    ci = (ROOT / ".ci" / "run").read_text()
    (loop,) = re.findall(r"^\s*for django in ([\d. ]+); do$", ci, re.MULTILINE)
    names = [
        name.replace("${django}", django)
        for name in re.findall(r'^\s*leg "([^"]+)"', ci, re.MULTILINE)
        for django in (loop.split() if "${django}" in name else [""])
    ]
    assert len(names) >= 18, names
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    missing = [name for name in names if f"| {name} |" not in contributing]
    assert not missing, missing


@pytest.mark.parametrize("bad", ["6", "6.0.1", "six", "6.x", ""])
def test_dev_py_takes_a_django_minor_version_only(bad):
    assert dev._django_minor("6.0") == "6.0"
    with pytest.raises(argparse.ArgumentTypeError):
        dev._django_minor(bad)


def test_dev_py_pins_the_minor_version_it_is_given():
    (pin,) = dev.django_pins("6.0")
    requirement = Requirement(pin)
    assert requirement.name == "Django"
    assert requirement.specifier.contains("6.0.9")
    assert not requirement.specifier.contains("6.1.0")
    assert not requirement.specifier.contains("5.2.9")
    assert dev.django_pins(None) == []
