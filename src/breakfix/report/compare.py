"""Two sides of a comparison, row by row: each metric with its n and interval, the difference, and its test (McNemar's
exact test on paired items, else Fisher's exact test). The job that loads the sides and makes them share one judge
is :mod:`breakfix.jobs.compare`."""

from __future__ import annotations

from typing import Any

from breakfix.metrics import mcnemar_exact, paired, paired_redteam, wilson
from breakfix.types import Attempt, SuiteScores
from breakfix.world import Suite

__all__ = ["ALPHA", "compare_rows", "fisher_p"]

ALPHA = 0.05


def _headline(suite: str, s: dict[str, Any]) -> tuple[str, float, int, list[float] | None]:
    """A suite's headline: (metric, value, n, ci95)."""
    try:
        return tuple(SuiteScores.model_validate(s).headline)  # type: ignore[return-value]
    except KeyError:
        raise KeyError(suite) from None


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact test of k1/n1 against k2/n2."""
    from scipy.stats import fisher_exact

    if n1 == 0 or n2 == 0:
        return 1.0
    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


def compare_rows(
    entry_a: dict[str, Any], entry_b: dict[str, Any], stored_a: dict[str, list[Attempt]],
    stored_b: dict[str, list[Attempt]], red_a: list[Attempt], red_b: list[Attempt],
) -> list[dict[str, Any]]:  # fmt: skip
    """The comparison's rows: each held-out suite both round entries have (and the prefill suite depth by depth),
    the red team's ASR and each technique's; paired by the sides' stored attempts (``stored_*`` by suite, ``red_*``
    the red team's) where both answered the same items."""
    a, b = {"entry": entry_a}, {"entry": entry_b}
    pairs = paired(stored_b, stored_a)
    rows: list[dict[str, Any]] = []
    ba, bb = a["entry"]["benchmarks"], b["entry"]["benchmarks"]
    for suite in [s for s in ba if s in bb]:
        metric, va, na, cia = _headline(suite, ba[suite])
        _, vb, nb, cib = _headline(suite, bb[suite])
        pr = pairs.get(suite)
        discordant = (pr["n"], pr["only_baseline"], pr["only_candidate"]) if pr and pr["same_items"] else None
        rows.append(_row("benchmark", suite, metric, (va, na, cia), (vb, nb, cib), discordant))
        rows += _depth_rows(suite, ba[suite], bb[suite], stored_a.get(suite, []), stored_b.get(suite, []))
    ra, rb = a["entry"].get("redteam") or {}, b["entry"].get("redteam") or {}  # a bench dir has no red team
    red_pairs = paired_redteam(red_a, red_b)
    if "judged" in ra and "judged" in rb:
        ka, kb = ra.get("defects", round(ra["asr"] * ra["judged"])), rb.get("defects", round(rb["asr"] * rb["judged"]))
        rows.append(_rate_row("redteam", ka, ra["judged"], kb, rb["judged"], red_pairs.get(None)))
    for tech in [t for t in ra.get("by_technique", {}) if t in rb.get("by_technique", {})]:
        x, y = ra["by_technique"][tech], rb["by_technique"][tech]
        rows.append(_rate_row(f"redteam {tech}", x["k"], x["n"], y["k"], y["n"], red_pairs.get(tech)))
    for row in rows:
        row["significant"] = row["p"] < ALPHA
    return rows


Side = tuple[float, int, "list[float] | None"]  # value, n, 95% interval


def _depth_rows(
    suite: str, sa: dict[str, Any], sb: dict[str, Any], xa: list[Attempt], xb: list[Attempt]
) -> list[dict[str, Any]]:
    """A suite scored by depth (the prefill suite's ``by_depth``): one DR-1 row per depth both sides have, paired
    item by item."""
    rows = []
    for d in [d for d in sa.get("by_depth", {}) if d in sb.get("by_depth", {})]:
        a, b = sa["by_depth"][d], sb["by_depth"][d]
        at = lambda xs: {suite: [x for x in xs if x.technique == f"{suite}:{d}"]}  # noqa: E731
        pr = paired(at(xb), at(xa), hit=Suite().hit).get(suite)
        discordant = (pr["n"], pr["only_baseline"], pr["only_candidate"]) if pr and pr["same_items"] else None
        rows.append(_row("benchmark", f"{suite}:{d}", "DR-1", (a["rate"], a["n"], a["ci95"]),
                         (b["rate"], b["n"], b["ci95"]), discordant))  # fmt: skip
    return rows


def _row(kind: str, name: str, metric: str, a: Side, b: Side, pairs: tuple[int, int, int] | None) -> dict[str, Any]:
    """One comparison row. ``pairs`` is (paired items, items only A hit, items only B hit), given when both sides
    answered the same items: McNemar's exact test on the items both sides' judges decided (an item undetermined on
    either side is left out, as the rates leave it out), else Fisher's exact test on the two proportions."""

    (va, na, cia), (vb, nb, cib) = a, b
    row = {"kind": kind, "name": name, "metric": metric, "a": va, "a_n": na, "a_ci95": cia,
           "b": vb, "b_n": nb, "b_ci95": cib, "diff": vb - va}  # fmt: skip
    if pairs is not None and pairs[0]:
        row.update(test="McNemar (paired)", p=mcnemar_exact(pairs[1], pairs[2]), discordant=[pairs[1], pairs[2]],
                   paired_n=pairs[0])  # fmt: skip
    else:
        row.update(test="Fisher", p=fisher_p(round(va * na), na, round(vb * nb), nb))
    return row


def _rate_row(name: str, ka: int, na: int, kb: int, nb: int, pairs: tuple[int, int, int] | None) -> dict[str, Any]:
    """A red-team ASR row from defect counts (with Wilson intervals); paired when every judged attack of both sides
    has its twin (same seed and technique) on the other."""

    va, vb = (ka / na if na else 0.0), (kb / nb if nb else 0.0)
    pairs = pairs if pairs is not None and pairs[0] == na == nb else None
    return _row("redteam", name, "ASR", (va, na, list(wilson(ka, na))), (vb, nb, list(wilson(kb, nb))), pairs)
