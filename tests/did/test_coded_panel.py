"""``evaluate`` estimates on integer-coded firm and consortium ids (``coded_panel``): every
estimator, bootstrap and diagnostic gives exactly the numbers it gives on the id strings,
because the codes keep the ids' sorted order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policylab.did import aggregate, att_gt, event_study, few_cluster_inference, sun_abraham
from policylab.did.panel import coded_panel, firm_panel
from policylab.did.diagnostics.power import mde_for_panel

pytestmark = pytest.mark.filterwarnings("ignore:few clusters")


@pytest.fixture(scope="module")
def panels():
    rng = np.random.default_rng(3)
    n, years = 240, np.arange(2012, 2022)
    # ids whose sorted order differs from their order of appearance and from numeric order
    ids = [f"F{(i * 37) % 1000:03d}-{chr(65 + i % 26)}" for i in range(n)]
    firms = pd.DataFrame({"firm_id": np.repeat(ids, len(years)), "year": np.tile(years, n)})
    effect = np.repeat(rng.normal(0, 1, n), len(years))
    firms["exports_eur"] = np.exp(10 + effect + rng.normal(0, 0.5, len(firms))) * (rng.random(len(firms)) > 0.3)
    firms["turnover_eur"] = firms["exports_eur"] * 3 + 1e5
    firms = firms.sample(frac=0.95, random_state=1)  # gaps, rows out of order
    members = [i for i in range(n) if i % 3 == 0]
    membership = pd.DataFrame({
        "firm_id": [ids[i] for i in members],
        "cluster_id": [f"C{(i * 7) % 9}" for i in members],
        "join_year": [2015 + (i % 4) for i in members],
        "exit_year": [pd.NA] * len(members),
    })
    panel = firm_panel(firms, membership)
    return panel, coded_panel(panel)


def _same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def test_codes_keep_the_sorted_order_of_the_ids(panels):
    panel, coded = panels
    for col in ("firm_id", "consortium"):
        order = np.argsort(panel[col].to_numpy(dtype=object), kind="stable")
        assert (np.diff(coded[col].to_numpy()[order]) >= 0).all()
        assert coded[col].nunique() == panel[col].nunique()


@pytest.mark.parametrize("outcome", ["log_exports", "exporter"])
def test_every_estimate_is_the_same_on_codes(panels, outcome):
    panel, coded = panels
    kw = dict(outcome=outcome, unit="firm_id", time="year", cohort="cohort", cluster="consortium")
    gt = [att_gt(p, **kw, method="dr") for p in (panel, coded)]
    _same(gt[0].tidy()[["estimate", "std_error"]], gt[1].tidy()[["estimate", "std_error"]])
    for kind in ("simple", "dynamic"):
        _same(aggregate(gt[0], kind).tidy()[["estimate", "std_error"]],
              aggregate(gt[1], kind).tidy()[["estimate", "std_error"]])
    for fit in (event_study, sun_abraham):
        a, b = (fit(p, **kw, leads=3, lags=3) for p in (panel, coded))
        _same(a.tidy()[["estimate", "std_error"]], b.tidy()[["estimate", "std_error"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcr = [few_cluster_inference(g, p, kind="simple", min_treated_clusters=30, draws=199, seed=1)
               for g, p in zip(gt, (panel, coded))]
    _same([wcr[0].inference.p_value, wcr[0].inference.conf_low, wcr[0].inference.conf_high],
          [wcr[1].inference.p_value, wcr[1].inference.conf_low, wcr[1].inference.conf_high])
    mde = [mde_for_panel(p, outcome=outcome, unit="firm_id", time="year", cohort="cohort",
                         cluster="consortium").mde for p in (panel, coded)]
    _same(mde[0], mde[1])
