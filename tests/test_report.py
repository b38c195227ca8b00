import copy

import jsonschema
import pytest

from breakfix.report.build import render_html, report_schema, validate_report


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
