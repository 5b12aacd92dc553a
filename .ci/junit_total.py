"""Sum pytest JUnit XML reports into CI's closing line: ``ci: N passed, N failed, N skipped``.

Usage: junit_total.py [--failed-steps FILE] DIR-OR-XML...

FILE lists the steps that failed, one per line, as ``name (prefix)`` where prefix names
the JUnit XML files the step wrote (``sqlite`` for ``sqlite-parallel.xml``, ...). A failed
step whose reports hold no failed test (it crashed first, or it is not a pytest run)
counts as one failure, so a broken run never sums to a clean line; the end of its log
(``prefix.log`` beside the reports) is printed. The ids of failed tests are printed too.
"""

import pathlib
import re
import sys
import xml.etree.ElementTree as ET

TAIL = 20  # lines of a failed step's log shown when no failed test explains the failure


def failures(path):
    """The ids of the tests that failed or errored in one report, as pytest names them."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []
    return [
        f"{case.get('classname', '')}::{case.get('name', '')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]


def count(path):
    passed = failed = skipped = 0
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return 0, 1, 0
    for suite in root.iter("testsuite"):
        tests = int(suite.get("tests", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skip = int(suite.get("skipped", 0))
        passed += tests - bad - skip
        failed += bad
        skipped += skip
    return passed, failed, skipped


def main(argv):
    steps = []
    if argv[:1] == ["--failed-steps"]:
        steps = [line for line in pathlib.Path(argv[1]).read_text().splitlines() if line.strip()]
        argv = argv[2:]
    paths = []
    for arg in map(pathlib.Path, argv):
        paths += sorted(arg.glob("*.xml")) if arg.is_dir() else [arg]

    totals = {path.name: count(path) for path in paths}
    for path in paths:
        for test in failures(path):
            print(f"failed test ({path.stem}): {test}")
    passed = sum(t[0] for t in totals.values())
    failed = sum(t[1] for t in totals.values())
    skipped = sum(t[2] for t in totals.values())
    log_dir = next((arg for arg in map(pathlib.Path, argv) if arg.is_dir()), None)
    for step in steps:
        match = re.search(r"\(([^()]+)\)$", step)
        prefix = match.group(1) if match else None
        if prefix is None or not any(name.startswith(prefix) and t[1] for name, t in totals.items()):
            failed += 1
            log = log_dir / f"{prefix}.log" if prefix and log_dir else None
            if log is not None and log.exists():
                tail = log.read_text(errors="replace").splitlines()[-TAIL:]
                print(f"{step}: no failed test on record; the end of its output:")
                print("\n".join(f"| {line}" for line in tail))
    print(f"ci: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
