"""Published event-time, cohort and cell terms rest on at least ``min_cell_firms`` members."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policylab.did import event_study, sun_abraham
from policylab.did.disclosure import hide_thin_terms

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")


def panel() -> pd.DataFrame:
    """6 firms join in 2013, 2 in 2016, 12 never; 2010-2018."""
    rng = np.random.default_rng(4)
    cohorts = [2013] * 6 + [2016] * 2 + [0] * 12
    rows = []
    for i, c in enumerate(cohorts):
        for y in range(2010, 2019):
            on = c > 0 and y >= c
            rows.append({"firm_id": f"f{i}", "year": y, "cohort": c,
                         "exporter": 0.1 * on + rng.normal(0, 0.1)})
    return pd.DataFrame(rows)


def test_event_times_of_the_small_cohort_alone_are_hidden():
    df = panel()
    res = event_study(df, outcome="exporter", unit="firm_id", time="year", cohort="cohort",
                      leads=6, lags=5)
    out = hide_thin_terms(res, df, "exporter", min_cell_firms=5, leads=6, lags=5, binned=True)
    hidden = sorted(e.event_time for e in out.estimates if math.isnan(e.estimate))
    # only the 2016 cohort is seen 4 or more years before joining (2013's earliest is -3)
    assert hidden == [-6, -5, -4]
    kept = [e for e in out.estimates if not math.isnan(e.estimate)]
    assert all(math.isfinite(e.std_error) for e in kept)
    assert out.headline == res.headline
    assert any("3 term(s) not published" in w for w in out.warnings)
    # a minimum the small cohort meets hides nothing, and returns the result itself
    assert hide_thin_terms(res, df, "exporter", min_cell_firms=2, leads=6, lags=5,
                           binned=True) is res


def test_cohort_terms_and_cells_of_a_small_cohort_are_hidden():
    df = panel()
    res = sun_abraham(df, outcome="exporter", unit="firm_id", time="year", cohort="cohort")
    out = hide_thin_terms(res, df, "exporter", min_cell_firms=5, binned=True)
    cohorts = {e.term: math.isnan(e.estimate) for e in out.by_cohort}
    assert cohorts == {"cohort::2013": False, "cohort::2016": True}
    assert all(math.isnan(c.estimate) == (c.cohort == 2016) for c in out.cells)
    assert out.headline == res.headline


def test_missing_outcomes_do_not_count():
    df = panel()
    df.loc[(df["cohort"] == 2013) & (df["year"] == 2018) & (df["firm_id"] != "f0"),
           "exporter"] = np.nan  # event time +5 now rests on one firm
    res = event_study(df, outcome="exporter", unit="firm_id", time="year", cohort="cohort",
                      leads=3, lags=5)
    out = hide_thin_terms(res, df, "exporter", min_cell_firms=5, leads=3, lags=5, binned=True)
    five = next(e for e in out.estimates if e.event_time == 5)
    assert math.isnan(five.estimate)
