"""Checks of a design and its estimates: pre-trend tests, the Goodman-Bacon decomposition,
HonestDiD sensitivity and power (minimum detectable effect).
"""
