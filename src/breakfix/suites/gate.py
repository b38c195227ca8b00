"""Release gates and paired comparisons for benchmark results.

- Gates: ``harmful=0.05`` reads "the harmful suite's headline metric must not exceed 0.05". Keys are suite names
  (their headline: ``defect_rate``, ``success_rate`` or ``score``) or metric names (``vprr``, ``iprr``); a gate may
  name a language as ``harmful[es]=0.10``. A signed value is relative to the baseline checkpoint: ``harmful=+0.02``
  fails when the defect rate rose by more than 0.02 over the baseline's (a quantization gate), ``capability=-0.05``
  (with ``--fail-below``) when the score fell by more than 0.05. ``prefill:20=0.1`` reads the ``prefill`` suite's
  DR-1 at depth 20 (its ``by_depth``).
- Paired comparison: two checkpoints answer the same held-out items, so each item gives a pair of outcomes; an exact
  McNemar test on the discordant pairs says whether the difference is more than chance.
- JUnit XML, so CI systems show each gate as a test.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.errors import BreakfixError
from breakfix.metrics import mcnemar_exact, paired

__all__ = ["Gate", "check_gates", "mcnemar_exact", "metric_value", "paired", "parse_gate", "write_junit"]

_GATE = re.compile(r"^([a-z_]+)(?::([0-9]+))?(?:\[([a-z]{2,3})\])?=([+-]?)([0-9]*\.?[0-9]+)$")
METRIC_SUITE = {"vprr": "overrefusal", "iprr": "overrefusal"}


@dataclass(frozen=True)
class Gate:
    """One threshold: ``key`` (suite or metric), optional ``language``, ``limit``, and ``above`` (fail when the value is
    above the limit) or not (fail when below)."""

    key: str
    language: str | None
    limit: float
    above: bool
    relative: bool = False  # the limit is an offset from the baseline's value
    depth: int | None = None  # a suite's rate at one depth (its ``by_depth``: the prefill suite)

    @property
    def name(self) -> str:
        lang = f"[{self.language}]" if self.language else ""
        depth = f":{self.depth}" if self.depth is not None else ""
        limit = f"baseline{self.limit:+g}" if self.relative else f"{self.limit:g}"
        return f"{self.key}{depth}{lang} {'<=' if self.above else '>='} {limit}"


def parse_gate(text: str, above: bool) -> Gate:
    """``"harmful=0.05"`` or ``"harmful[es]=0.1"`` -> :class:`Gate`; ``BreakfixError`` when malformed."""
    m = _GATE.match(text.strip())
    if not m:
        flag = "--fail-above" if above else "--fail-below"
        raise BreakfixError(
            flag,
            text,
            "expected KEY=VALUE such as harmful=0.05, harmful[es]=0.1, prefill:20=0.1 or harmful=+0.02 (over "
            "--baseline)",
        )
    sign = m.group(4)
    value = float(m.group(5)) * (-1 if sign == "-" else 1)
    depth = int(m.group(2)) if m.group(2) is not None else None
    if depth is not None and m.group(3):
        raise BreakfixError("--fail-above" if above else "--fail-below", text, "a depth gate has no per-language value")
    return Gate(m.group(1), m.group(3), value, above, relative=bool(sign), depth=depth)


def metric_value(benchmarks: dict[str, Any], key: str, language: str | None = None, depth: int | None = None) -> float:
    """The value a gate key names in ``{suite: scores}``; ``KeyError`` when the run lacks it."""
    suite = METRIC_SUITE.get(key, key)
    s = benchmarks[suite]
    if depth is not None:
        return float(s["by_depth"][str(depth)]["rate"])
    if language is not None:
        per = s["by_language"][language]
        return float(per[key] if key in METRIC_SUITE else per.get("rate", per.get("score", 0.0)))
    if key in METRIC_SUITE:
        return float(s[key])
    entry = registry.find("suite", suite)
    if entry is not None and entry.obj.headline in s:
        return float(s[entry.obj.headline])
    for headline in ("defect_rate", "success_rate", "score"):
        if headline in s:
            return float(s[headline])
    raise KeyError(key)


def check_gates(
    benchmarks: dict[str, Any], gates: Sequence[Gate], baseline: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One result per gate: its value, its limit (for a relative gate, the baseline's value plus the offset), and
    whether it passed."""
    out = []
    for g in gates:
        if g.relative and baseline is None:
            raise BreakfixError("gate", g.name, "a relative gate (a signed value) needs --baseline")
        try:
            value = metric_value(benchmarks, g.key, g.language, g.depth)
            limit = metric_value(baseline, g.key, g.language, g.depth) + g.limit if g.relative and baseline else g.limit
        except KeyError:
            suites = ", ".join(benchmarks)
            what = f"{g.key}:{g.depth}" if g.depth is not None else g.key
            raise BreakfixError("gate", g.name, f"the benchmark has no {what!r} (suites: {suites})") from None
        passed = value <= limit + 1e-12 if g.above else value >= limit - 1e-12
        out.append({"gate": g.name, "value": value, "limit": limit, "passed": passed})
    return out


def write_junit(path: str | Path, results: Sequence[dict[str, Any]], benchmarks: dict[str, Any], name: str) -> None:
    """JUnit XML: one test case per gate (failed gates as failures) and one per suite headline (always passing)."""
    cases = ET.Element("testsuite", name=f"breakfix.bench.{name}")
    failures = 0
    for r in results:
        case = ET.SubElement(cases, "testcase", classname="breakfix.gates", name=r["gate"])
        if not r["passed"]:
            failures += 1
            ET.SubElement(
                case, "failure", message=f"{r['value']:.4f} breaks {r['gate']}"
            ).text = f"value {r['value']:.6f}, limit {r['limit']:g}"
    for suite in benchmarks:
        case = ET.SubElement(cases, "testcase", classname="breakfix.suites", name=suite)
        try:
            ET.SubElement(case, "system-out").text = f"{metric_value(benchmarks, suite):.6f}"
        except KeyError:
            ET.SubElement(case, "system-out").text = "vprr {:.6f}, iprr {:.6f}".format(
                benchmarks[suite].get("vprr", 0.0), benchmarks[suite].get("iprr", 0.0)
            )
    cases.set("tests", str(len(results) + len(benchmarks)))
    cases.set("failures", str(failures))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(cases).write(p, encoding="utf-8", xml_declaration=True)
