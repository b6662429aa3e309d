"""Numbers the whole package agrees on, each defined once (importable from every layer)."""

from __future__ import annotations

#: Below this many (treated) clusters, analytic cluster-robust intervals tend to be too
#: narrow: estimators add a caveat, the few-cluster policy switches to the wild cluster
#: restricted bootstrap (``estimation.few_cluster_threshold``'s default) and the report says
#: so (``studies/COVERAGE.md``; Cameron, Gelbach and Miller 2008; MacKinnon and Webb 2017).
FEW_CLUSTERS = 30

#: The EU common indicators policylab computes (:mod:`policylab.indicators.common`, which
#: checks that its registry holds exactly these), so the config can check a target's code
#: without loading the indicators.
COMMON_CODES = ("RCO01", "RCO02", "RCO04", "RCR01", "RCR19", "RCR02", "RCO87", "RCO84",
                "RCR79", "RCR104")
