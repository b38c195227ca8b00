"""A real break-fix cycle, end to end, on the tiny model: every stage, the run directory contract, and resume."""

import json

import pytest

from breakfix.backends.hf import HFBackend
from breakfix.config import parse_config
from breakfix.cycle import Cycle
from breakfix.report.data import validate_report


def _cfg(model):
    return parse_config(
        {
            "name": "ci",
            "model": {"path": str(model), "batch_size": 64},
            "world": "demo",
            "judge": "demo",
            "generation": {"max_new_tokens": 40},
            "redteam": {"techniques": ["direct", "template:roleplay_dan", "escalation"]},
            "training": {"sft": {"epochs": 1, "batch_size": 32}, "dpo": {"epochs": 1, "batch_size": 32}},
            "cycle": {"max_rounds": 1},
        }
    )


@pytest.fixture()
def generate_calls(monkeypatch):
    calls = []
    real = HFBackend.generate

    def spy(self, conversations, config=None, on_batch=None):
        calls.append((self.id, len(conversations)))
        return real(self, conversations, config) if config else real(self, conversations)

    monkeypatch.setattr(HFBackend, "generate", spy)
    return calls


def test_cycle_writes_the_run_directory_and_resumes(tiny_model, tmp_path, generate_calls):
    out = tmp_path / "run"
    report = Cycle(_cfg(tiny_model), out, log=lambda m: None).run()

    validate_report(report)
    assert json.loads((out / "report.json").read_text()) == report
    html = (out / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "DR-3" in html
    for suite in ("harmful", "jailbreak", "multiturn"):
        b = report["rounds"][0]["benchmarks"][suite]
        for x in ("1", "3"):  # each defect suite reports DR-1 and DR-3 with a Wilson interval
            lo, hi = b["dr_ci95"][x]
            assert lo <= b["dr"][x] <= hi
    assert (out / "run.db").exists()
    assert [r["round"] for r in report["rounds"]] == [0, 1]
    r0 = report["rounds"][0]
    assert set(r0["benchmarks"]) == {
        "harmful", "jailbreak", "multiturn", "continuation", "summarization", "thirdparty", "ungroundedness", "xpia",
        "overrefusal", "capability",
    }  # fmt: skip
    # the XPIA rate is the share of its stored replies that carry their own canary (not the judge's say)
    from breakfix.store import read_round_attempts

    stored = read_round_attempts(out / "run.db", 0, report["rounds"][0]["judging"]["judge"])
    xpia = [a for a in stored["xpia"] if a.status == "ok"]
    assert len(xpia) == r0["benchmarks"]["xpia"]["n"] > 0
    followed = sum(a.info["canary"] in a.response for a in xpia)
    assert r0["benchmarks"]["xpia"]["success_rate"] == pytest.approx(followed / len(xpia))
    for f in ("findings.jsonl", "sft.jsonl", "dpo.jsonl", "README.md"):
        assert (out / "rounds" / "0" / f).exists()
    cur = r0["curation"]
    assert sum(cur["dropped_reasons"].values()) == cur["dropped_duplicates"] + cur["dropped_contaminated"]
    assert sum(cur["response_sources"].values()) + cur["unresolved_findings"] == len(
        (out / "rounds" / "0" / "findings.jsonl").read_text().splitlines()
    )
    assert not (out / "rounds" / "1" / "model-sft").exists()  # the SFT checkpoint is gone once DPO has read it
    assert any((out / "rounds" / "1" / "model").glob("*.safetensors"))
    assert report["rounds"][1]["checkpoint"].endswith("rounds/1/model")
    assert r0["training"]["steps"] > 0 and r0["training"]["tokens_per_s"] > 0
    assert r0["redteam"]["attempts"] > 0 and r0["redteam"]["errors"] == 0
    assert report["run"]["decontamination"]["redteam_seeds"] == 0
    assert report["run"]["decontamination"]["training_rows"] == 0
    dpo = [json.loads(line) for line in (out / "rounds" / "0" / "dpo.jsonl").open()]
    assert len(dpo) == cur["dpo"] > 0
    for row in dpo:  # explicit prompt; only the last assistant turn in chosen and rejected (DESIGN.md section 5)
        assert {"prompt", "chosen", "rejected", "meta"} <= set(row)
        assert row["prompt"][-1]["role"] == "user" and row["chosen"] != row["rejected"]
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]
    sft = [json.loads(line) for line in (out / "rounds" / "0" / "sft.jsonl").open()]
    assert sft and all({"prompt", "completion", "meta"} <= set(r) for r in sft)

    # a finished run resumes without generating or training again
    model_mtime = (out / "rounds" / "1" / "model" / "model.safetensors").stat().st_mtime
    generate_calls.clear()
    again = Cycle(_cfg(tiny_model), out, log=lambda m: None).run()
    assert generate_calls == []
    assert (out / "rounds" / "1" / "model" / "model.safetensors").stat().st_mtime == model_mtime
    strip = lambda r: [{k: v for k, v in x.items() if k != "seconds"} for x in r["rounds"]]  # noqa: E731
    assert strip(again) == strip(report)


def test_interrupted_cycle_resumes_without_redoing_finished_work(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def crash(*a, **k):
        raise KeyboardInterrupt("killed during training")

    monkeypatch.setattr("breakfix.jobs.fix.train_candidates", crash)
    with pytest.raises(KeyboardInterrupt):
        Cycle(_cfg(tiny_model), out, log=lambda m: None).run()
    assert not (out / "report.json").exists()
    assert (out / "rounds" / "0" / "sft.jsonl").exists()
    monkeypatch.undo()

    calls = []
    real = HFBackend.generate

    def spy(self, conversations, config=None, on_batch=None):
        calls.append(self.id)
        return real(self, conversations, config)

    monkeypatch.setattr(HFBackend, "generate", spy)
    report = Cycle(_cfg(tiny_model), out, log=lambda m: None).run()
    assert len(report["rounds"]) == 2
    # round 0's validation and red team are not generated again: its model generates only for its held-out suites,
    # which are scored after every decision, once the candidates of round 0 have been scored
    assert calls and "/candidates/" in calls[0]
    first_r0 = next(i for i, c in enumerate(calls) if c == str(tiny_model))  # round 0 is the user's model dir
    assert all("/candidates/" not in c for c in calls[first_r0:])


def test_rerun_with_another_config_is_refused(tiny_model, tmp_path):
    from breakfix.errors import BreakfixError

    out = tmp_path / "run"
    cfg = _cfg(tiny_model)
    cfg.cycle.max_rounds = 0
    Cycle(cfg, out, log=lambda m: None).run()
    other = _cfg(tiny_model)
    other.seed = 5
    with pytest.raises(BreakfixError, match="different config"):
        Cycle(other, out, log=lambda m: None).run()


def test_a_resume_refuses_a_checkpoint_whose_weights_changed(tiny_model, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from breakfix.errors import BreakfixError

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    cfg = _cfg(model)
    cfg.cycle.max_rounds = 0
    cfg.benchmarks.suites = ["harmful"]
    cfg.redteam.techniques, cfg.redteam.languages = ["direct"], ["en"]
    Cycle(cfg, tmp_path / "run", log=lambda m: None).run()
    weights = load_file(model / "model.safetensors")
    name = sorted(weights)[-1]  # a tensor at the end of the file
    weights[name] = weights[name] + torch.ones_like(weights[name])
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(BreakfixError, match="round 0's checkpoint changed since this run measured it"):
        Cycle(cfg, tmp_path / "run", log=lambda m: None).run()
