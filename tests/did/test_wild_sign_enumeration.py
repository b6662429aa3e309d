"""Sign enumeration (conditional Monte Carlo) and added draws in the wild bootstrap.

Each draw evaluated at every sign pattern of the weights of the most influential clusters
estimates the *same* bootstrap p-value as plain draws, with a smaller Monte Carlo error;
draws added to meet a Monte Carlo target continue the same seeded stream.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policylab.did import few_cluster_inference, twfe, wild_bootstrap

pytestmark = pytest.mark.filterwarnings("ignore::policylab.errors.FewClustersWarning")


def consortia_panel(n_consortia: int, singles: int, seed: int = 0) -> pd.DataFrame:
    """Treated consortia of five firms (joining in 2014) and never-member singleton firms."""
    rng = np.random.default_rng(seed)
    years = np.arange(2011, 2019)
    rows, firm = [], 0
    spec = [(f"C{c}", 5) for c in range(n_consortia)] + [(None, 1)] * singles
    for name, size in spec:
        shock = rng.normal(0, 0.5, years.size)
        for _ in range(size):
            a = rng.normal()
            cl = name if name is not None else f"firm:{firm}"
            for j, t in enumerate(years):
                d = int(name is not None and t >= 2014)
                rows.append((f"F{firm}", t, cl, d, a + 0.1 * j + shock[j] + 0.3 * d + rng.normal()))
            firm += 1
    return pd.DataFrame(rows, columns=["firm_id", "year", "consortium", "member", "y"])


def fit(panel: pd.DataFrame):
    return twfe(panel, outcome="y", unit="firm_id", time="year", treatment="member",
                cluster="consortium")  # fmt: skip


def test_enumerating_every_clusters_signs_reproduces_exact_enumeration() -> None:
    # Rademacher weights have |v| = 1: with the signs of all 8 clusters (4 consortia, 4
    # never-member firms) enumerated, every
    # draw holds all 2**8 weight vectors, so the estimate is the exact p-value, with no
    # Monte Carlo error, from only 99 draws
    panel = consortia_panel(n_consortia=4, singles=4)
    res = fit(panel)
    exact = wild_bootstrap(res, panel, draws=999, weights="rademacher", seed=1)
    assert exact.exact and exact.draws == 256
    signed = wild_bootstrap(res, panel, draws=99, weights="rademacher", seed=1, enumerate_signs=8)
    assert not signed.exact and signed.spec["sign_patterns"] == 256
    assert signed.p_value == exact.p_value
    assert signed.conf_low == pytest.approx(exact.conf_low, rel=1e-9)
    assert signed.conf_high == pytest.approx(exact.conf_high, rel=1e-9)
    assert signed.spec["monte_carlo"]["p_value"] == pytest.approx(0.0, abs=1e-12)


def test_sign_enumeration_estimates_the_same_p_value_with_a_smaller_error() -> None:
    panel = consortia_panel(n_consortia=5, singles=80, seed=3)
    res = fit(panel)
    plain = wild_bootstrap(res, panel, draws=20_000, weights="webb", seed=2)
    signed = wild_bootstrap(res, panel, draws=999, weights="webb", seed=2, enumerate_signs=5)
    mc_plain, mc_signed = plain.spec["monte_carlo"], signed.spec["monte_carlo"]
    both = math.hypot(mc_plain["p_value"], mc_signed["p_value"])
    assert abs(signed.p_value - plain.p_value) < 4 * both
    for bound in ("conf_low", "conf_high"):
        both = math.hypot(mc_plain[bound], mc_signed[bound])
        assert abs(getattr(signed, bound) - getattr(plain, bound)) < 4 * both
        # 999 draws x 32 patterns beat 20,000 plain draws
        assert mc_signed[bound] < mc_plain[bound]


def test_dense_and_cluster_sum_paths_give_the_same_plain_draws(monkeypatch) -> None:
    panel = consortia_panel(n_consortia=6, singles=60, seed=4)
    res = fit(panel)
    b = wild_bootstrap(res, panel, draws=1999, weights="webb", seed=5)
    monkeypatch.setattr("policylab.did.inference.wild.DENSE_PLAIN", True)
    a = wild_bootstrap(res, panel, draws=1999, weights="webb", seed=5)
    assert a.p_value == b.p_value
    assert a.conf_low == pytest.approx(b.conf_low, rel=1e-10)
    assert a.conf_high == pytest.approx(b.conf_high, rel=1e-10)


def test_draws_are_added_until_the_monte_carlo_target_and_are_deterministic() -> None:
    panel = consortia_panel(n_consortia=5, singles=60, seed=6)
    res = fit(panel)
    target = 0.002
    d = few_cluster_inference(res, panel, draws=999, seed=0, mc_target=target)
    inf = d.inference
    assert inf.draws > 999 and inf.spec["mc_target_met"] is True
    width = inf.conf_high - inf.conf_low
    mc = inf.spec["monte_carlo"]
    assert max(mc["conf_low"], mc["conf_high"]) <= target * width
    again = few_cluster_inference(res, panel, draws=999, seed=0, mc_target=target)
    assert (again.headline, again.inference.draws) == (d.headline, inf.draws)
    # the same draws from the start: the first run with that many draws gives the same p
    direct = wild_bootstrap(res, panel, draws=inf.draws, weights="webb", seed=0,
                            enumerate_signs=inf.spec["sign_patterns"].bit_length() - 1)
    assert direct.p_value == inf.p_value


def test_enumerate_signs_is_checked() -> None:
    panel = consortia_panel(n_consortia=3, singles=10)
    res = fit(panel)
    for bad in (-1, 13, 2.5, True):
        with pytest.raises(ValueError, match="enumerate_signs"):
            wild_bootstrap(res, panel, draws=99, enumerate_signs=bad)
