"""The headline's inference as ``evaluate`` publishes it (``pipeline.headline_inference``):
every number comes from one stated method, the analytic few-cluster caveat is dropped when
the bootstrap is used, the Monte Carlo error is published, and the interval hardly moves
when only the seed changes."""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from policylab.config import load_config
from policylab.did.inference import few_clusters
from policylab.pipeline import _fit_method, headline_inference
from policylab.report._serialize import to_jsonable

sys.path.insert(0, str(Path(__file__).resolve().parent / "did"))
from test_few_clusters import region_panel  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning"),
    pytest.mark.filterwarnings("ignore::policylab.did.estimators.callaway_santanna.att_gt.NoComparisonWarning"),
]
METHODS = ("callaway_santanna", "event_study")


@pytest.fixture(scope="module")
def panel():
    df = region_panel(n_consortia=6, singles=60, seed=3)
    df["treated_now"] = df["member"]
    return df


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    from labfiles import write_tiny_lab

    return load_config(write_tiny_lab(tmp_path_factory.mktemp("lab")))


def config(cfg, **estimation):
    return cfg.model_copy(update={"estimation": cfg.estimation.model_copy(update=estimation)})


def headline(panel, cfg, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, raw = _fit_method(method, panel, "y", cfg, "consortium")
    return res, headline_inference(res, raw, panel, cfg)


@pytest.mark.parametrize("method", METHODS)
def test_every_headline_number_comes_from_one_stated_method(panel, base_cfg, method):
    cfg = config(base_cfg, bootstrap_draws=999, bootstrap_mc_target=few_clusters.MC_TARGET)
    fitted, (res, rec) = headline(panel, cfg, method)
    h = res.headline
    assert rec["used"] and rec["method"] == "wild_cluster_restricted_bootstrap"
    doc = json.loads(json.dumps(to_jsonable({"headline": h.to_dict(), "rec": rec}),
                                allow_nan=False))
    stated = doc["rec"]["inference"]
    assert set(stated) == {"std_error", "statistic", "p_value", "interval"}
    assert "CRV1" in stated["std_error"] and "bootstrap-t" in stated["statistic"]
    assert "wild cluster restricted bootstrap" in stated["p_value"]
    assert "test inversion" in stated["interval"]
    # the statistic is the bootstrap-t's observed t: estimate over the SE shown
    j = doc["headline"]
    assert j["statistic"] == pytest.approx(j["estimate"] / j["std_error"])
    # the interval excludes 0 iff p < alpha (test inversion of the same test)
    alpha = cfg.estimation.alpha
    excludes = not (j["conf_low"] <= 0.0 <= j["conf_high"])
    assert excludes == (j["p_value"] <= alpha)
    # analytic numbers kept, and the analytic caveat dropped
    assert doc["rec"]["analytic"]["std_error"] == pytest.approx(fitted.headline.std_error)
    assert doc["rec"]["analytic"]["p_value"] == pytest.approx(fitted.headline.p_value)
    assert not any("consider a wild cluster bootstrap" in w or "read the standard errors" in w
                   for w in res.warnings)
    assert any("wild cluster restricted bootstrap" in w for w in res.warnings)
    # Monte Carlo error of the p-value and of both bounds
    mc = doc["rec"]["monte_carlo"]
    b = doc["rec"]["draws"]
    assert b >= 999 and doc["rec"]["draws_configured"] == 999
    p = j["p_value"]
    # each draw holds the sign patterns of the 6 most influential consortia: the p-value's
    # error is that of the draws' shares, below the binomial error of as many plain draws
    assert mc["sign_patterns"] == 2**few_clusters.SIGN_CLUSTERS
    assert 0 <= mc["p_value"] < math.sqrt(p * (1 - p) / b)
    width = j["conf_high"] - j["conf_low"]
    assert mc["target_met"] is True
    for k in ("conf_low", "conf_high"):
        # draws were added until the error met the target
        assert mc[k] is not None and 0 <= mc[k] <= few_clusters.MC_TARGET * width


def test_the_event_study_se_is_the_analytic_crv1(panel, base_cfg):
    fitted, (res, _) = headline(panel, base_cfg, "event_study")
    assert res.headline.std_error == pytest.approx(fitted.headline.std_error, rel=1e-9)
    assert res.headline.estimate == fitted.headline.estimate


def test_same_seed_same_numbers(panel, base_cfg):
    a = headline(panel, base_cfg, "callaway_santanna")[1]
    b = headline(panel, base_cfg, "callaway_santanna")[1]
    assert a[0].headline == b[0].headline and a[1] == b[1]


def test_analytic_headline_states_its_method(panel, base_cfg):
    _, (res, rec) = headline(panel, config(base_cfg, few_cluster_threshold=0), "event_study")
    assert not rec["used"] and rec["inference"]["std_error"].startswith("analytic")
    assert "monte_carlo" not in rec


def test_draw_policy_adds_draws_until_the_target():
    from policylab.did import twfe

    df = region_panel(n_consortia=6, singles=60, seed=5)
    res = twfe(df, outcome="y", unit="firm_id", time="year", treatment="member",
               cluster="consortium")
    # plain draws (no sign enumeration): the draws are added on the cluster-sum path
    fixed = few_clusters.few_cluster_inference(res, df, draws=999, enumerate_signs=0)
    adapted = few_clusters.few_cluster_inference(res, df, draws=999, mc_target=0.005,
                                                 enumerate_signs=0)
    assert adapted.inference.spec["mc_target_met"] is True
    assert fixed.inference.draws == 999
    assert adapted.inference.draws > 999
    mc = adapted.inference.spec["monte_carlo"]
    width = adapted.inference.conf_high - adapted.inference.conf_low
    assert max(mc["conf_low"], mc["conf_high"]) < 1.5 * 0.005 * width
    with pytest.raises(ValueError, match="mc_target"):
        few_clusters.few_cluster_inference(res, df, draws=999, mc_target=0)


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_changing_only_the_seed_moves_each_bound_by_under_2_percent_of_the_width(
        panel, base_cfg, method):
    bounds = []
    for seed in (0, 7, 11):
        res = headline(panel, config(base_cfg, seed=seed, bootstrap_mc_target=few_clusters.MC_TARGET),
                       method)[1][0]
        bounds.append((res.headline.conf_low, res.headline.conf_high))
    lo, hi = np.array(bounds).T
    width = float(np.mean(hi - lo))
    assert np.ptp(lo) < 0.02 * width and np.ptp(hi) < 0.02 * width, (bounds, width)
