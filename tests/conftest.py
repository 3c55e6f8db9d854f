"""Suite-wide rules: tests that read the public data in ``../shared`` skip where it is
absent, but under CI (``CI`` set) such a skip is a failure, never silent; and with
``NARVIK_EXPECT_BUILD`` set (the compiled-build test runs part of the suite so), the
session stops unless the engine runs as that build."""

from __future__ import annotations

import os

import pytest

SHARED_MARKERS = ("../shared", "/shared/")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if any(m in reason for m in SHARED_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"CI is set but the shared data is absent: {reason}"


def pytest_sessionstart(session: pytest.Session) -> None:
    want = os.environ.get("NARVIK_EXPECT_BUILD")
    if want:
        from narvik.engine import build_kind

        if build_kind() != want:
            pytest.exit(f"engine build is {build_kind()!r}, expected {want!r}", returncode=3)
