"""`make test`: every suite in its own pytest process, then one closing line for all.

Each service is its own Django project with its own settings, so suites cannot share a
process. All suites run even when one fails; the exit code is non-zero if any failed or
collected nothing (pytest's exit 5 is a failure here, never a pass).

    python scripts/run_tests.py                 # everything
    python scripts/run_tests.py tickets shared  # some suites; extra args after -- go to pytest
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES: dict[str, Path] = {
    "shared": ROOT / "shared",
    "accounts": ROOT / "services" / "accounts",
    "tickets": ROOT / "services" / "tickets",
    "notifier": ROOT / "services" / "notifier",
    "reports": ROOT / "services" / "reports",
    "web": ROOT / "services" / "web",
    "cross": ROOT,
}
RESULTS = ROOT / "var" / "test-results"


def counts(report: Path) -> dict[str, int]:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not report.is_file():
        return totals
    for suite in ET.parse(report).getroot().iter("testsuite"):  # noqa: S314 (our own file)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    return totals


def run(name: str, extra: list[str]) -> tuple[int, dict[str, int], float]:
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    args = [sys.executable, "-m", "pytest", f"--junitxml={report}", "-p", "no:cacheprovider"]
    if name == "cross":
        args += ["-c", str(ROOT / "tests" / "pytest.ini"), "tests"]
    elif os.environ.get("CI"):
        # CI: never trust a test database an earlier run (or an older migration) left behind.
        args.append("--create-db")
    print(f"\n=== {name} ===", flush=True)
    started = time.monotonic()
    code = subprocess.run([*args, *extra], cwd=SUITES[name], check=False).returncode
    return code, counts(report), time.monotonic() - started


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    names = argv or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)

    passed = failed = skipped = 0
    broken: list[str] = []
    lines: list[str] = []
    for name in names:
        code, c, seconds = run(name, extra)
        bad = c["failures"] + c["errors"]
        ok = c["tests"] - bad - c["skipped"]
        passed, failed, skipped = passed + ok, failed + bad, skipped + c["skipped"]
        if code != 0 or c["tests"] == 0:
            broken.append(f"{name} (pytest exit {code})")
        lines.append(
            f"  {name:<9} {ok:>4} passed {bad:>3} failed {c['skipped']:>3} skipped  {seconds:6.1f}s"
        )

    print("\n=== summary ===")
    print("\n".join(lines))
    if broken:
        print(f"failing suites: {', '.join(broken)}")
        failed = max(failed, len(broken))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
