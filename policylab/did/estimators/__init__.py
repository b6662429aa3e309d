"""The estimators, one module per family: 2x2, static TWFE, the event study (dynamic TWFE),
Sun-Abraham, extended TWFE (linear and Poisson) and Callaway-Sant'Anna (its own subpackage).
Each returns a frozen result (:mod:`policylab.did.results`).
"""
