#!/usr/bin/env python3
"""Run the QEMU system tests and print one closing summary line.

    tests/system/run.py                      # every test_*.py in this directory
    tests/system/run.py test_boot            # named modules (or module.Class.test)

The last line printed is exactly `system: N passed, N failed` (plus
`, N skipped` when some were skipped); the exit status is non-zero if any
test failed or errored.  Environment: see the test modules (XEN_IMAGE, ...).
"""

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


class CountingResult(unittest.TextTestResult):
    """TextTestResult that also counts plain successes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main(names):
    # The test modules import qemu and support from this directory, which
    # Python puts first on sys.path for a script.
    names = names or sorted(p.stem for p in HERE.glob("test_*.py"))
    loader = unittest.TestLoader()
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult)

    passed = failed = skipped = 0
    for name in names:
        print(f"=== {name}", file=sys.stderr, flush=True)
        result = runner.run(loader.loadTestsFromName(name))
        passed += result.passed + len(result.expectedFailures)
        failed += (len(result.failures) + len(result.errors)
                   + len(result.unexpectedSuccesses))
        skipped += len(result.skipped)

    sys.stderr.flush()
    summary = f"system: {passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
