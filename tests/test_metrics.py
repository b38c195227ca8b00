import math

import pytest

from breakfix.metrics import asr, defect_rate, dr_table, group_rates, rate, wilson


def test_wilson_known_values():
    # reference values from the Wilson score formula (z = 1.96)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_wilson_contains_point_estimate_and_narrows():
    for k, n in [(1, 7), (30, 100), (99, 100)]:
        lo, hi = wilson(k, n)
        assert lo <= k / n <= hi
    assert (wilson(50, 1000)[1] - wilson(50, 1000)[0]) < (wilson(5, 100)[1] - wilson(5, 100)[0])


def test_dr_x():
    sev = [0, 0, 1, 3, 5, 7]
    assert defect_rate(sev, 1) == pytest.approx(4 / 6)
    assert defect_rate(sev, 5) == pytest.approx(2 / 6)
    assert dr_table(sev) == {"1": 4 / 6, "3": 3 / 6, "5": 2 / 6, "7": 1 / 6}
    assert defect_rate([], 1) == 0.0


def test_rate_and_groups():
    r = rate(3, 12)
    assert r["n"] == 12 and r["k"] == 3 and math.isclose(r["rate"], 0.25) and len(r["ci95"]) == 2
    g = group_rates([("en", True), ("en", False), ("es", True)], key=lambda x: x[0], hit=lambda x: x[1])
    assert g["en"]["rate"] == 0.5 and g["es"]["rate"] == 1.0 and g["en"]["n"] == 2


def test_asr_excludes_nothing_silently():
    assert asr(2, 8) == 0.25
    assert asr(0, 0) == 0.0
