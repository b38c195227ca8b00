"""The compare job (``breakfix compare``): two runs, or two rounds of one run, side by side with significance. Each
side is ``RUN_DIR`` (its last round), ``RUN_DIR@R`` (round R), ``RUN_DIR@R:BUILD`` (round R's quantized build,
``cycle.verify_builds``), ``RUN_DIR@R/CANDIDATE`` (a candidate fix of round R, on the validation items it was scored
on; only against another candidate) or a ``breakfix bench`` directory (the model it benchmarked, such as a GGUF build
under ``bench --gguf``). For each held-out suite the comparison is paired when both sides answered the same items (the
stored benchmark attempts of the two sides, matched by seed, technique and user turns): McNemar's exact test on the
discordant items. The red team's attack success rates are paired the same way (by seed and technique) when both
sides attacked the same seeds. Otherwise the test is Fisher's exact test on the two proportions.

Both sides must be scored by one judge. When their judges differ (or ``--judge`` names one), the stored replies of
both sides are judged by that judge (side A's by default; stored verdicts of it are reused) and every number is
recomputed from them, so a comparison never sets one judge's verdicts against another's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from breakfix.config import parse_config
from breakfix.engine import judge_unjudged
from breakfix.errors import BreakfixError
from breakfix.judges import build_judge
from breakfix.metrics import score_suites, summarize
from breakfix.report.compare import ALPHA, compare_rows
from breakfix.store import read_items, read_round_attempts, read_stage
from breakfix.types import Attempt


def parse_side(spec: str) -> tuple[Path, int | None, str | None]:
    """``RUN_DIR``, ``RUN_DIR@R``, ``RUN_DIR@R:BUILD`` (round R's quantized build, ``cycle.verify_builds``) or
    ``RUN_DIR@R/CANDIDATE`` (a candidate fix of round R, returned as ``/CANDIDATE``)."""
    run, sep, rest = spec.rpartition("@")
    r, slash, cand = rest.partition("/")
    if sep and slash and r.isdigit() and cand:
        return Path(run), int(r), "/" + cand
    r, _, build = rest.partition(":")
    if sep and r.isdigit():
        return Path(run), int(r), build or None
    return Path(spec), None, None


def _candidate_side(spec: str, run_dir: Path, report: dict[str, Any], entry: dict[str, Any], name: str) -> dict:
    """A candidate fix of a round as a side: its validation scores and stored validation attempts (no red team)."""
    cands = {c["name"]: c for c in entry.get("candidates") or []}
    if name not in cands:
        raise BreakfixError(spec, "candidate", f"round {entry['round']} has candidates {sorted(cands) or 'none'}, "
                            f"not {name!r}")  # fmt: skip
    db = run_dir / "run.db"
    items = read_stage(db, entry["round"], f"candidate:{name}").get("items", {})
    judge = (entry.get("judging") or {}).get("judge") or report["run"].get("judge", "")
    return {"spec": spec, "dir": run_dir, "round": entry["round"], "name": f"{report['run']['name']} {name}",
            "entry": {"round": entry["round"], "benchmarks": cands[name]["validation"]}, "judge": judge,
            "config": report["run"].get("config", {}), "candidate": True,
            "read": lambda judge_id: read_items(db, items, judge_id)}  # fmt: skip


def load_side(spec: str) -> dict[str, Any]:
    """One side: its run dir, its report's round entry (or a quantized build's), and the run's name; or a
    ``breakfix bench`` directory (its ``bench.json`` and ``bench.db``: the benchmarked model, no red team)."""
    run_dir, r, build = parse_side(spec)
    if r is None and (run_dir / "bench.json").is_file() and not (run_dir / "report.json").is_file():
        return _bench_side(spec, run_dir)
    path = run_dir / "report.json"
    if not path.is_file():
        raise BreakfixError(
            spec, None, "no report.json or bench.json there; give RUN_DIR, RUN_DIR@ROUND[:BUILD] or a bench --out dir"
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        rounds = {x["round"]: x for x in report["rounds"]}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise BreakfixError(str(path), None, "not a breakfix report") from None
    if r is None:
        r = max(rounds)
    if r not in rounds:
        raise BreakfixError(spec, "round", f"the run has rounds {sorted(rounds)}, not {r}")
    entry = rounds[r]
    if build is not None and build.startswith("/"):
        return _candidate_side(spec, run_dir, report, entry, build[1:])
    judge = (entry.get("judging") or {}).get("judge") or report["run"].get("judge", "")
    if build is not None:
        builds = entry.get("builds") or {}
        if build not in builds:
            raise BreakfixError(spec, "build", f"round {r} has builds {sorted(builds) or 'none'}, not {build!r}")
        entry = {"round": r, **builds[build]}
    db = run_dir / "run.db"
    return {"spec": spec, "dir": run_dir, "round": r, "name": report["run"]["name"] + (f" {build}" if build else ""),
            "entry": entry, "judge": judge, "config": report["run"].get("config", {}),
            "read": lambda judge_id: read_round_attempts(db, r, judge_id, build)}  # fmt: skip


def _bench_side(spec: str, bench_dir: Path) -> dict[str, Any]:
    """A ``breakfix bench`` directory as a side: the model it benchmarked (its suites; it ran no red team)."""
    path = bench_dir / "bench.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data["model"]
        items = model["items"]
        entry = {"round": 0, "benchmarks": model["benchmarks"]}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise BreakfixError(
            str(path), "model.items", "not a bench.json of this breakfix (re-run breakfix bench)"
        ) from None
    db = bench_dir / "bench.db"
    return {"spec": spec, "dir": bench_dir, "round": 0, "name": f"bench {model.get('spec', bench_dir.name)}",
            "entry": entry, "judge": data.get("judge", ""), "config": data.get("config", {}),
            "read": lambda judge_id: read_items(db, items, judge_id)}  # fmt: skip


def _common_judge(a: dict[str, Any], b: dict[str, Any], name: str | None) -> Any:
    """The judge both sides are scored by when theirs differ or ``name`` is given: ``name`` (else side A's judge),
    built from side A's config (for its judge model)."""
    data = dict(a["config"])
    if name is not None:
        data["judge"] = name
    return build_judge(parse_config(data, str(a["dir"] / "report.json")))


def _rejudged(side: dict[str, Any], judge: Any) -> tuple[dict[str, list[Attempt]], int]:
    """A side's stored attempts, each with ``judge``'s verdict (judged now where it has none; nothing is written),
    and how many were judged now."""
    stored = side["read"](judge.id)
    if not stored:
        raise BreakfixError(
            side["spec"], None, f"was judged by {side['judge']}, and has no stored replies to judge with {judge.id}"
        )
    return stored, judge_unjudged(judge, [a for xs in stored.values() for a in xs])


def _rescored(entry: dict[str, Any], stored: dict[str, list[Attempt]]) -> dict[str, Any]:
    """A round entry's benchmark and red-team figures recomputed from (re-judged) stored attempts."""
    bench = score_suites({s: stored[s] for s in entry["benchmarks"] if s in stored})
    red = summarize(stored["redteam"]) if stored.get("redteam") else entry.get("redteam")
    return {**entry, "benchmarks": bench, "redteam": red}


def compare(spec_a: str, spec_b: str, judge: str | None = None) -> dict[str, Any]:
    """Compare side A with side B. Every row has A's and B's value and n, the difference B - A, the p-value, the
    test used and whether the difference is significant at 0.05.

    Args:
        judge: Score both sides with this judge (a judge name, built from side A's config). By default the sides'
            own verdicts are used when one judge made them all, else both are scored by side A's judge.
    """
    a, b = load_side(spec_a), load_side(spec_b)
    if a.get("candidate") != b.get("candidate"):
        raise BreakfixError(
            spec_b if a.get("candidate") else spec_a, None,
            "a candidate is scored on the validation split: compare it with another candidate (RUN_DIR@R/NAME)",
        )  # fmt: skip
    judging = {"judge": a["judge"], "rejudged": {"a": 0, "b": 0}}
    if judge is not None or a["judge"] != b["judge"]:
        common = _common_judge(a, b, judge)
        judging["judge"] = common.id
        (stored_a, judging["rejudged"]["a"]), (stored_b, judging["rejudged"]["b"]) = (
            _rejudged(a, common), _rejudged(b, common)
        )  # fmt: skip
        a = {**a, "entry": _rescored(a["entry"], stored_a)}
        b = {**b, "entry": _rescored(b["entry"], stored_b)}
    else:
        stored_a, stored_b = a["read"](a["judge"]), b["read"](b["judge"])
    red_a, red_b = stored_a.pop("redteam", []), stored_b.pop("redteam", [])
    rows = compare_rows(a["entry"], b["entry"], stored_a, stored_b, red_a, red_b)
    side = lambda s: {"spec": s["spec"], "run": s["name"], "round": s["round"]}  # noqa: E731
    return {"a": side(a), "b": side(b), "alpha": ALPHA, "judging": judging, "rows": rows}
