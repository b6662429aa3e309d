"""Every fit runs with one BLAS thread (:mod:`policylab.threads`): the same bits on machines
with any number of cores, no spinning threads on a busy one; the limits come back after."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

import policylab.pipeline as pipeline
from policylab.config import load_config
from policylab.threads import one_blas_thread


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_inside_every_blas_runs_one_thread_and_the_limits_come_back():
    before = _blas_threads()
    assert before  # numpy's BLAS is loaded
    with one_blas_thread():
        assert _blas_threads() == {1}
    assert _blas_threads() == before


@pytest.mark.filterwarnings("ignore::policylab.errors.PolicylabWarning")
def test_estimate_and_evaluate_fit_with_one_blas_thread(tiny_lab, monkeypatch):
    seen = []
    fit, region = pipeline._fit_method, pipeline.estimate_region

    def fit_spy(*args, **kwargs):
        seen.append(("estimate", _blas_threads()))
        return fit(*args, **kwargs)

    def region_spy(*args, **kwargs):
        seen.append(("evaluate", _blas_threads()))
        return region(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_fit_method", fit_spy)
    monkeypatch.setattr(pipeline, "estimate_region", region_spy)
    cfg = load_config(tiny_lab)
    pipeline.estimate(cfg, method="callaway_santanna", outcome="exporter")
    pipeline.evaluate(cfg, write=False)
    assert {kind for kind, _ in seen} == {"estimate", "evaluate"}
    assert all(threads == {1} for _, threads in seen), seen
