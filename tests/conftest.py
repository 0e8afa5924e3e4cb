"""Shared test setup: the hypothesis profiles and golden-file comparison (the shared corpus
readers are in corpus.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No wall-clock deadlines anywhere (the machines are shared and noisy).  In CI
# the examples are derandomized, so a run is reproducible and a red build
# always means a real regression; locally every run explores new examples.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, derandomize=True, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

GOLDEN = Path(__file__).resolve().parent / "golden"


class Golden:
    """Compare text with tests/golden/<name>; REGEN_GOLDEN=1 rewrites the file instead."""

    def check(self, name: str, actual: str) -> None:
        path = GOLDEN / name
        if os.environ.get("REGEN_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"golden file {path} missing; run with REGEN_GOLDEN=1 and review the diff"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path} (REGEN_GOLDEN=1 to update, then review the diff)"


@pytest.fixture
def golden() -> Golden:
    return Golden()
