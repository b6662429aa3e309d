"""Fixtures of the report tests (the objects themselves are built in ``report_fixtures``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from report_fixtures import CHROMIUM_FLAGS, make_result

from policylab.evaluation import EvaluationResult


@pytest.fixture(scope="session")
def result() -> EvaluationResult:
    return make_result()


@pytest.fixture(scope="session")
def model(result: EvaluationResult):
    """The built report: the overview page and one page per region."""
    from policylab.report import build_report

    return build_report(result)


@pytest.fixture(scope="session")
def pages(model) -> dict[str, str]:
    """Every page's HTML by its path in the output folder."""
    from policylab.report import render_pages

    return render_pages(model)


@pytest.fixture(scope="session")
def rendered(result: EvaluationResult, pages: dict[str, str]) -> dict[str, str]:
    from policylab.report import indicators_csv, results_json

    return {"html": pages["index.html"], "json": results_json(result),
            "csv": indicators_csv(result)}


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory: pytest.TempPathFactory, result: EvaluationResult):
    from policylab.report import write_report

    out = tmp_path_factory.mktemp("report")
    write_report(result, out)
    return out


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Debian Chromium for the whole session (see style.md B.6)."""
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed, and CI=true requires the browser tests to run")
        pytest.skip("chromium not found (install the Debian 'chromium' package to run "
                    "browser tests)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
