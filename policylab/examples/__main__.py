"""``python -m policylab.examples``: regenerate ``data/example/`` and ``configs/example.toml``."""

from __future__ import annotations

from .writers import main

if __name__ == "__main__":
    main()
