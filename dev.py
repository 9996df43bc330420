#!/usr/bin/env python3
"""Set-up and everyday commands; needs nothing but Python 3.11+.

    python3 dev.py demo    # virtualenv, install, migrate, demo user, web server + task workers
    python3 dev.py test    # virtualenv, install, Python tests, JS tests (with Node), browser tests
    python3 dev.py bench   # benchmarks (PostgreSQL, wrk, Chromium); see docs/benchmarks.md

Run ``python3 dev.py --help`` for the options (another interpreter, database or venv).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
JS_DIR = ROOT / "tests" / "js"
DEMO_USER = ("demo", "demo-password")


def run(*cmd: object, check: bool = True, **kwargs: object) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=check, cwd=ROOT, **kwargs).returncode


def python_in(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(
    venv_dir: Path, interpreter: str, groups: list[str], django: str | None = None
) -> Path:
    """Create the virtualenv and install the project with ``groups``; skip when up to date.

    ``django`` ("6.0") pins that Django minor version (``Django~=6.0.0``); None installs the
    newest one that ``pyproject.toml`` admits on the interpreter.
    """
    python = python_in(venv_dir)
    if not python.exists():
        if interpreter == sys.executable:
            venv.EnvBuilder(with_pip=True).create(venv_dir)
        else:
            run(interpreter, "-m", "venv", venv_dir)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    pins = django_pins(django)
    digest.update(" ".join(groups + pins).encode())
    marker = venv_dir / f".installed-{'-'.join(groups)}"
    if not marker.exists() or marker.read_text() != digest.hexdigest():
        # Dependency groups need pip >= 25.1.
        run(python, "-m", "pip", "install", "-q", "--upgrade", "pip")
        extra = [arg for group in groups for arg in ("--group", group)]
        run(python, "-m", "pip", "install", "-q", "-e", ".", *extra, *pins)
        marker.write_text(digest.hexdigest())
    return python


def django_pins(django: str | None) -> list[str]:
    """The pip requirement that holds Django to one minor version ("6.0": any 6.0.x)."""
    return [f"Django~={django}.0"] if django else []


def js_tests() -> int:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        print("Node.js not found: JS unit tests skipped (install Node.js 20+ to run them).")
        return 0
    lock = JS_DIR / "package-lock.json"
    stamp = JS_DIR / "node_modules" / ".lock-hash"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        run(npm, "ci", "--no-audit", "--no-fund", "--prefix", JS_DIR)
        stamp.write_text(digest)
    return run(npm, "test", "--prefix", JS_DIR, check=False)


def cmd_test(args: argparse.Namespace) -> int:
    python = ensure_venv(Path(args.venv), args.python, ["test"], args.django)
    pytest_args = list(args.pytest_args)
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    if not args.no_cov:
        pytest_args = ["--cov", "--cov-report=term", *pytest_args]
    status = run(python, "-m", "pytest", *pytest_args, check=False)
    if not args.python_only:
        status = js_tests() or status
    print("All tests passed." if status == 0 else "Some tests failed.")
    return status


def cmd_bench(args: argparse.Namespace) -> int:
    python = ensure_venv(Path(args.venv), args.python, ["bench"], args.django)
    options = ["--quick"] * args.quick + ["--report-only"] * args.report_only
    for name in ("only", "duration", "postgres"):
        value = getattr(args, name)
        if value is not None:
            options += [f"--{name}", *(value if isinstance(value, list) else [value])]
    return run(python, "-m", "tests.benchmarks", *options, check=False)


def cmd_demo(args: argparse.Namespace) -> int:
    python = ensure_venv(Path(args.venv), args.python, ["demo"], args.django)
    env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true")}
    manage = [python, "manage.py"]
    run(*manage, "migrate", "--noinput", env=env)
    run(*manage, "ensure_demo_user", DEMO_USER[0], DEMO_USER[1], env=env)
    # No worker runs yet: files a killed worker left unfinished end as interrupted.
    run(*manage, "recover_interrupted_uploads", env=env)
    address = f"127.0.0.1:{args.port}"
    # More than one worker, so that one user's long batch does not hold up another's upload.
    workers = [(*manage, "db_worker")] * args.workers
    # Each child leads its own process group, so stopping it also stops the process that
    # Django's autoreloader runs underneath it.
    procs = [
        subprocess.Popen(
            [str(c) for c in cmd], cwd=ROOT, env=env, start_new_session=os.name != "nt"
        )
        for cmd in ((*manage, "runserver", address), *workers)
    ]
    signal.signal(signal.SIGTERM, _interrupt)
    time.sleep(1.5)
    print(
        f"\n  Demo running: http://{address}/  (admin: http://{address}/admin/)\n"
        f"  Log in as {DEMO_USER[0]} / {DEMO_USER[1]}. "
        f"Web server and {args.workers} task worker(s) stop on Ctrl-C.\n",
        flush=True,
    )
    status = 0
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("The web server or the task worker stopped on its own; see above.", flush=True)
        status = 1
    except KeyboardInterrupt:
        print("\nStopping the web server and the task worker…", flush=True)
    finally:
        stop_all(procs)
    return status


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _django_minor(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*\.[0-9]+", value):
        raise argparse.ArgumentTypeError(f"expected a minor version such as 6.0, not {value!r}")
    return value


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        if os.name == "nt":
            proc.send_signal(sig)
        else:
            os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the virtualenv")
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="virtualenv directory")
    parser.add_argument(
        "--django",
        type=_django_minor,
        metavar="X.Y",
        help="install this Django minor version (e.g. 6.0); default: the newest one allowed",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo site with a task worker on SQLite")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--workers", type=_positive, default=2, help="task worker processes (default 2)"
    )
    demo.set_defaults(func=cmd_demo)
    test = sub.add_parser("test", help="run the test suites")
    test.add_argument("--python-only", action="store_true", help="skip the JS unit tests")
    test.add_argument("--no-cov", action="store_true", help="no coverage report")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    test.set_defaults(func=cmd_test)
    bench = sub.add_parser("bench", help="run the benchmarks; see docs/benchmarks.md")
    bench.add_argument("--quick", action="store_true", help="smoke run, under 2 minutes")
    bench.add_argument(
        "--only", nargs="+", metavar="NAME", help="some of: poll scale writes cleanup browser"
    )
    bench.add_argument("--duration", metavar="SECONDS", help="seconds per measurement (8)")
    bench.add_argument("--postgres", metavar="URL", help="server for the scratch databases")
    bench.add_argument(
        "--report-only",
        action="store_true",
        help="re-render docs/benchmarks.md and .png from the last results",
    )
    bench.set_defaults(func=cmd_bench)
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 - the message is for older interpreters
        parser.error("Python 3.11 or newer is needed.")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
