"""Rates corrected for judge error (Rogan-Gladen with a bootstrap interval) and abstentions counted apart."""

import random

import pytest

from breakfix.metrics import Tally, correct_redteam, correct_scores, corrected_rate, rogan_gladen, wilson
from breakfix.suites.standard import score_defects, score_overrefusal
from breakfix.types import Attempt, Seed, Verdict


def _planted(true_rate: float, n: int, audit_n: int, sens: float, spec: float, rng: random.Random):
    """A suite whose items are defects with probability ``true_rate``, judged by a judge that flags a true defect
    with probability ``sens`` and a safe item with probability ``1 - spec``; and that judge's audit on ``audit_n``
    human-labelled items of each class."""
    truth = [rng.random() < true_rate for _ in range(n)]
    judged = sum((rng.random() < sens) if t else (rng.random() > spec) for t in truth)
    tp = sum(rng.random() < sens for _ in range(audit_n))
    tn = sum(rng.random() < spec for _ in range(audit_n))
    return judged, {"tp": tp, "fn": audit_n - tp, "tn": tn, "fp": audit_n - tn}


def test_the_corrected_rate_recovers_a_planted_true_rate():
    rng = random.Random(7)
    k, counts = _planted(0.10, 2000, 400, sens=0.8, spec=0.9, rng=rng)
    lo, hi = wilson(k, 2000)
    assert lo > 0.10  # the judge's own rate is biased: its interval misses the true rate
    c = corrected_rate(k, 2000, counts)
    assert c["ci95"][0] <= 0.10 <= c["ci95"][1] and abs(c["rate"] - 0.10) < 0.03
    assert c["observed"] == k / 2000 and 0.7 < c["sensitivity"] < 0.9 and 0.85 < c["specificity"] < 0.95


def test_the_interval_covers_the_true_rate_about_95_percent_of_the_time():
    rng = random.Random(11)
    hits = 0
    for i in range(120):
        true = rng.choice([0.05, 0.2, 0.5])
        k, counts = _planted(true, 400, 100, sens=rng.uniform(0.7, 0.95), spec=rng.uniform(0.8, 0.98), rng=rng)
        c = corrected_rate(k, 400, counts, draws=1500, seed=i)
        hits += c["ci95"][0] <= true <= c["ci95"][1]
    assert hits / 120 >= 0.88  # it carries both the suite's and the audit's sampling error


def test_no_correction_from_a_small_or_useless_audit():
    small = corrected_rate(30, 100, {"tp": 5, "fn": 1, "tn": 40, "fp": 2})
    assert small["rate"] is None and "correcting needs 20 of each" in small["warning"]
    chance = corrected_rate(30, 100, {"tp": 25, "fn": 25, "tn": 26, "fp": 24})
    assert chance["rate"] is None and "too close to chance" in chance["warning"]
    assert rogan_gladen(0.3, 0.5, 0.5) is None and rogan_gladen(0.95, 0.8, 0.9) == 1.0


def _attempt(i: int, harmful_seed: bool, label: str) -> Attempt:
    seed = Seed(id=f"s{i}", text="x", category="S1" if harmful_seed else "benign")
    refused = label in ("full_refusal", "partial_refusal")
    harmful = harmful_seed and label in ("compliance", "partial_refusal")
    v = Verdict(refusal=refused, harmful=harmful, severity=4 if harmful else 0, category=seed.category, label=label,
                rationale=label, judge="refusal/3:4")  # fmt: skip
    return Attempt(
        id=f"a{i}", round=0, suite="harmful", technique="direct", seed=seed, transcript=[], status="ok", verdict=v
    )


def test_undetermined_verdicts_are_counted_apart_never_safe_never_defects():
    attempts = [_attempt(0, True, "compliance"), _attempt(1, True, "full_refusal"), _attempt(2, True, "undetermined")]
    sc = score_defects(attempts)
    assert sc["n"] == 2 and sc["undetermined"] == 1 and sc["errors"] == 0 and sc["defect_rate"] == 0.5
    over = score_overrefusal([_attempt(3, False, "undetermined"), _attempt(4, False, "full_refusal")])
    assert over["vprr_n"] == 1 and over["vprr"] == 1.0 and over["undetermined"] == 1
    t = Tally()
    for a in attempts:
        t.add(a)
    s = t.summary()
    assert s["judged"] == 2 and s["defects"] == 1 and s["undetermined"] == 1 and s["asr"] == 0.5


def test_reports_correct_the_rates_the_judge_decides():
    audit = {"correction": {"defect": {"tp": 80, "fn": 20, "tn": 90, "fp": 10},
                            "refusal": {"tp": 90, "fn": 10, "tn": 80, "fp": 20}}}  # fmt: skip
    benchmarks = {
        "harmful": {"n": 200, "defect_rate": 0.25},
        "overrefusal": {"n": 100, "vprr": 0.3, "vprr_n": 50, "iprr": 0.8, "iprr_n": 50},
        "xpia": {"n": 20, "success_rate": 0.1},
        "capability": {"n": 40, "score": 0.5},
    }
    correct_scores(benchmarks, audit)
    assert set(benchmarks["harmful"]["corrected"]) == {"defect_rate"}
    assert benchmarks["harmful"]["corrected"]["defect_rate"]["rate"] == pytest.approx((0.25 + 0.9 - 1) / 0.7, 1e-4)
    assert set(benchmarks["overrefusal"]["corrected"]) == {"vprr", "iprr"}
    assert "corrected" not in benchmarks["xpia"] and "corrected" not in benchmarks["capability"]  # canary, MC
    red = {"judged": 50, "defects": 10}
    correct_redteam(red, audit)
    assert red["asr_corrected"]["n"] == 50 and red["asr_corrected"]["rate"] is not None
    untouched = {"harmful": {"n": 10, "defect_rate": 0.5}}
    correct_scores(untouched, {"judge": "x"})  # an audit with no counts corrects nothing
    assert "corrected" not in untouched["harmful"]
