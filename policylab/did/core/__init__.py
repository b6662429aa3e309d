"""Shared numerical kernels of the estimators: input checks, fixed-effect absorption, least-
squares and Poisson fits, cluster-robust covariances, influence-function covariances, the
staggered-design helpers. Nothing here knows an estimator.
"""
