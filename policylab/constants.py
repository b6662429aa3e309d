"""Numbers the whole package agrees on, each defined once (importable from every layer)."""

from __future__ import annotations

#: Below this many (treated) clusters, analytic cluster-robust intervals tend to be too
#: narrow: estimators add a caveat, the few-cluster policy switches to the wild cluster
#: restricted bootstrap (``estimation.few_cluster_threshold``'s default) and the report says
#: so (``studies/COVERAGE.md``; Cameron, Gelbach and Miller 2008; MacKinnon and Webb 2017).
FEW_CLUSTERS = 30
