import copy
import json

import jsonschema
import pytest

from breakfix.report.data import report_schema, validate_report
from breakfix.report.html import render_html


def _report():
    defects = {
        "n": 10,
        "defect_rate": 0.2,
        "ci95": [0.05, 0.5],
        "dr": {"1": 0.2, "3": 0.1},
        "by_category": {"S1": {"n": 10, "k": 2, "rate": 0.2, "ci95": [0.05, 0.5]}},
        "by_language": {"en": {"n": 10, "k": 2, "rate": 0.2, "ci95": [0.05, 0.5]}},
    }
    rnd = {
        "round": 0,
        "checkpoint": "m",
        "seconds": {"benchmark": 1.0, "redteam": 1.0},
        "benchmarks": {
            "harmful": defects,
            "overrefusal": {"n": 5, "vprr": 0.1, "iprr": 0.8},
            "capability": {"n": 4, "score": 0.75},
        },
        "redteam": {"attempts": 3, "errors": 1, "asr": 0.5, "by_technique": {}, "by_category": {}},
        "curation": {"sft": 1, "dpo": 1, "benign": 0, "dropped_duplicates": 0, "dropped_contaminated": 0},
        "training": {"method": "sft+dpo", "steps": 2, "seconds": 1.0, "tokens_per_s": 10.0},
    }
    return {
        "schema": "breakfix.report/1",
        "run": {
            "name": "t",
            "seed": 0,
            "model": "m",
            "versions": {"breakfix": "0"},
            "config": {},
            "judge_audit": {"judge": "j", "n": 1, "agreement": 1.0},
            "decontamination": {"heldout_prompts": 1, "redteam_seeds": 0, "training_rows": 0},
        },
        "rounds": [rnd],
    }


def test_schema_accepts_a_valid_report():
    validate_report(_report())
    assert report_schema()["$id"] == "breakfix.report/1"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.update(schema="breakfix.report/2"),
        lambda r: r["rounds"][0]["benchmarks"]["harmful"].pop("defect_rate"),
        lambda r: r["rounds"][0]["benchmarks"]["overrefusal"].update(vprr=1.5),
        lambda r: r["rounds"][0]["redteam"].pop("errors"),
        lambda r: r.update(rounds=[]),
    ],
)
def test_schema_rejects_broken_reports(mutate):
    r = copy.deepcopy(_report())
    mutate(r)
    with pytest.raises(jsonschema.ValidationError):
        validate_report(r)


def test_html_is_offline_and_escaped():
    r = _report()
    r["run"]["name"] = "<script>alert(1)</script>"
    html = render_html(r)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert "data:image/png;base64," in html


def test_script_json_cannot_close_its_script_block():
    from breakfix.report.html import script_json

    text = script_json([{"x": "</script><script>alert(1)</script> & \u2028"}])
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == [{"x": "</script><script>alert(1)</script> & \u2028"}]


def test_charts_tables_and_tradeoff_of_two_rounds():
    from breakfix.report.html import audit_tables, render_html
    from breakfix.report.plots import category_rounds, tradeoff_points

    r = _report()
    r1 = copy.deepcopy(r["rounds"][0])
    r1["round"] = 1
    r1["benchmarks"]["harmful"]["defect_rate"] = 0.05
    r1["benchmarks"]["harmful"]["by_category"] = {"S2": {"n": 5, "k": 1, "rate": 0.2, "ci95": [0.0, 0.6]}}
    r["rounds"].append(r1)
    source, cats, table = category_rounds(r)
    assert source.startswith("held-out harmful") and cats == ["S1", "S2"] and table == [[0.2, None], [None, 0.2]]
    assert [(p["round"], p["dr"], p["vprr"]) for p in tradeoff_points(r)] == [(0, 0.2, 0.1), (1, 0.05, 0.1)]
    audit = {"judge": "j", "n": 4, "accuracy": 0.75, "kappa": 0.5, "by_language": {"en": {"n": 4, "accuracy": 0.75}},
             "binary": {"confusion": {"a": {"a": 1, "b": 1}, "b": {"a": 0, "b": 2}}, "per_class": {}}}  # fmt: skip
    tables = {t["id"]: t for t in audit_tables(audit)}
    assert tables["confusion"]["rows"] == [("a", [1, 1]), ("b", [0, 2])] and "by_language" in tables
    html = render_html(r)
    assert html.count("data:image/png;base64,") == 4 and 'id="judge-audit"' in html


def test_findings_are_read_for_the_browser_and_redacted(tmp_path):
    from breakfix.report.html import load_findings

    d = tmp_path / "rounds" / "0"
    d.mkdir(parents=True)
    row = {"attempt_id": "a1", "round": 0, "category": "S1", "technique": "direct", "language": "en", "turns": 1,
           "seed_text": "how to X", "prompt": [{"role": "user", "content": "how to X"}], "response": "do Y",
           "severity": 3}  # fmt: skip
    (d / "findings.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({**row, "attempt_id": "a2"}) + "\n")
    found, left_out = load_findings(tmp_path, per_round=1)
    assert left_out == 1 and found[0]["transcript"][-1] == {"role": "assistant", "content": "do Y"}
    redacted, _ = load_findings(tmp_path, redact=True)
    assert [f["id"] for f in redacted] == ["a1", "a2"] and "do Y" not in json.dumps(redacted)
    assert "how to X" not in json.dumps(redacted)


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "breakfix", *args], capture_output=True, text=True)


def test_breakfix_report_rebuilds_json_and_html_from_the_store(small_run, tmp_path):
    import shutil
    import sqlite3

    _, run_dir, reference = small_run
    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    (out / "report.json").unlink()
    (out / "report.html").unlink()
    res = _cli("report", str(out))
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "report.json").read_text()) == reference
    assert (out / "report.html").read_text().startswith("<!doctype html>")

    with sqlite3.connect(out / "run.db") as db:  # a run killed during its last round: the finished rounds only
        db.execute("DELETE FROM stages WHERE round=-1 OR (round=1 AND stage='record')")
    assert _cli("report", str(out)).returncode == 0
    partial = json.loads((out / "report.json").read_text())
    assert [r["round"] for r in partial["rounds"]] == [0] and partial["run"]["stop_reason"] == "incomplete"
    validate_report(partial)


def test_breakfix_compare_two_rounds_paired_and_two_runs(small_run, tmp_path):
    from breakfix.jobs.compare import compare

    _, run_dir, reference = small_run
    res = _cli("compare", f"{run_dir}@0", str(run_dir), "--json", str(tmp_path / "c.json"))
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "c.json").read_text())
    rows = {r["name"]: r for r in result["rows"]}
    h0, h1 = (reference["rounds"][i]["benchmarks"]["harmful"] for i in (0, 1))
    assert rows["harmful"]["a"] == h0["defect_rate"] and rows["harmful"]["b"] == h1["defect_rate"]
    assert rows["harmful"]["test"] == "McNemar (paired)" and 0 <= rows["harmful"]["p"] <= 1
    assert rows["harmful"]["significant"] == (rows["harmful"]["p"] < 0.05)
    assert rows["redteam"]["test"] == "McNemar (paired)"  # the same seeds and techniques in both rounds
    assert rows["redteam"]["a_n"] == reference["rounds"][0]["redteam"]["judged"]
    assert "harmful DR-1" in res.stdout

    same = compare(str(run_dir), str(run_dir))  # a round against itself: no difference, p = 1
    assert all(r["diff"] == 0 and r["p"] == 1.0 and not r["significant"] for r in same["rows"])
    bad = _cli("compare", f"{run_dir}@9", str(run_dir))
    assert bad.returncode == 2 and "round" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
