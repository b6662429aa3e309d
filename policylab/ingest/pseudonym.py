"""Pseudonymous firm IDs: a keyed hash (HMAC-SHA256) of each ID.

The key comes from an environment variable named in the config and is never written
anywhere: not in the canonical store, not in the report, not in the provenance. The same key
and ID always give the same pseudonym, so tables still link and re-runs are reproducible;
without the key, a pseudonym cannot be traced back to the ID by trying candidate IDs.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from ..errors import ConfigError

PSEUDONYM_HEX = 16  # 64 bits: collisions are negligible below billions of firms
FIRM_ID_TABLES = ("firms", "membership", "orders", "survey")


def key_from_env(var: str, where: str) -> bytes:
    """The key held by environment variable ``var``; ConfigError if it is unset or empty."""
    value = os.environ.get(var, "")
    if not value:
        raise ConfigError(f"{where}: environment variable {var} is not set; it must hold the secret key "
                          "that pseudonymises firm IDs")
    return value.encode("utf-8")


def pseudonym(key: bytes, firm_id: str) -> str:
    """The pseudonym of one firm ID."""
    return hmac.new(key, firm_id.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def key_check(key: bytes) -> str:
    """A value that changes with the key without revealing it (so a store knows the key changed)."""
    return hmac.new(key, b"policylab:key-check", hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def pseudonymise(tables: dict[str, pd.DataFrame], key: bytes) -> dict[str, pd.DataFrame]:
    """Tables with every ``firm_id`` replaced by its pseudonym (blank stays blank)."""
    ids: set[str] = set()
    for name in FIRM_ID_TABLES:
        if name in tables and "firm_id" in tables[name]:
            ids |= set(tables[name]["firm_id"].dropna())
    mapping = {i: pseudonym(key, i) for i in ids}
    if len(set(mapping.values())) != len(mapping):  # pragma: no cover - 2**-64 per pair
        raise ConfigError("two firm IDs share a pseudonym; use another key")
    out = dict(tables)
    for name in FIRM_ID_TABLES:
        if name in out and "firm_id" in out[name]:
            frame = out[name].copy()
            frame["firm_id"] = frame["firm_id"].map(mapping, na_action="ignore").astype("string")
            out[name] = frame
    return out
