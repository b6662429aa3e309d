"""Inference beyond the analytic covariance: the wild cluster bootstrap (one problem builder
per estimator family, ``wild``; the few-cluster dense kernel, ``wild_dense``), randomization
inference and the few-cluster policy that picks a headline's inference (``few_clusters``).
"""
