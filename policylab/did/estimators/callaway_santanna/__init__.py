"""Callaway and Sant'Anna (2021): preparation of the group-time cells (``prep``), the 2x2
estimators of one cell (``estimation``), ``att_gt``, its aggregations (``aggregate``) and
the headline result ``evaluate`` reports (``headline``).
"""
