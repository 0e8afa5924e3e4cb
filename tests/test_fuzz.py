"""The project's fuzzer (fuzz/) stays runnable and finds nothing in a few hundred seeded cases.

The one-minute CI run is ``python -m fuzz --seconds 60`` in .ci/run; this bounded count (no clock)
only guards the harness itself and the targets it drives.
"""

from __future__ import annotations

import pytest

from fuzz.seeds import load_seeds
from fuzz.targets import Fuzzer


@pytest.fixture(scope="module")
def fuzzer() -> Fuzzer:
    return Fuzzer(load_seeds())


@pytest.mark.parametrize("target,cases", [("rules", 60), ("events", 300)])
def test_seeded_cases_find_nothing(fuzzer: Fuzzer, target: str, cases: int) -> None:
    failures = [f for i in range(cases) if (f := fuzzer.one(target, 1, i)) is not None]
    assert [(f.kind, f.message[:200], f.case.get("replay")) for f in failures] == []
    assert fuzzer.stats.cases[target] == cases


def test_a_case_is_reproduced_from_its_seed(fuzzer: Fuzzer) -> None:
    import random

    a, b = fuzzer.event_case(random.Random("3:events:9")), fuzzer.event_case(random.Random("3:events:9"))
    assert a == b
