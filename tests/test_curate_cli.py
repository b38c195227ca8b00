"""`breakfix curate` on a run directory and on a findings file; curated datasets load with `datasets` and TRL's
formats; helpfulness data from a local file, a local dataset dir, or the hub; bad inputs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from breakfix.cli import app
from breakfix.config import CurationConfig
from breakfix.curation.datasets import load_helpful
from breakfix.errors import BreakfixError

runner = CliRunner()


@pytest.fixture(scope="module")
def redteam_dir(tmp_path_factory, tiny_model):
    out = tmp_path_factory.mktemp("rt")
    args = ["redteam", "--out", str(out), "--model", str(tiny_model), "--judge", "demo", "--language", "en"]
    args += ["--world", "demo"]  # a demo-world model at a path: a model dir's default world is files
    args += ["--technique", "direct", "--technique", "template:fiction", "--technique", "escalation"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return out


def test_curate_a_run_dir_writes_hub_readable_datasets(redteam_dir, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "data"
    res = runner.invoke(app, ["curate", str(redteam_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "curation.json").read_text())
    assert summary["findings"] > 0 and summary["dpo"] > 0
    cache = str(tmp_path / "cache")  # datasets caches by dir name and config: keep tests apart
    sft = load_dataset(str(out), "sft", split="train", cache_dir=cache)
    dpo = load_dataset(str(out), "dpo", split="train", cache_dir=cache)
    assert sft.column_names == ["prompt", "completion", "meta"] and len(sft) == summary["sft"]
    assert dpo.column_names == ["prompt", "chosen", "rejected", "meta"] and len(dpo) == summary["dpo"]
    row = dpo[0]
    assert row["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in row["chosen"]] == ["assistant"] and [m["role"] for m in row["rejected"]] == ["assistant"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "config_name: dpo" in card and "Content warning" in card
    # the safety share of the SFT mix is the configured default, within rounding
    share = CurationConfig().safety_share
    n_safety = sum(r["meta"]["category"] != "benign" for r in sft)
    assert n_safety == summary["safety_sft"] and abs(n_safety / len(sft) - share) <= 1 / len(sft)


def test_curate_reads_only_what_the_last_red_team_asked_for(redteam_dir, tmp_path, tiny_model):
    """A store may hold other attempts of the same round (an earlier config's red team, or another run's copied in
    to be reused): curation reads the attempts of the last red team only."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(redteam_dir, run)
    before = sum(1 for _ in open(run / "findings.jsonl"))
    args = ["redteam", "--out", str(run), "--model", str(tiny_model), "--judge", "demo", "--language", "en"]
    res = runner.invoke(app, [*args, "--world", "demo", "--technique", "direct"])  # the store keeps the others
    assert res.exit_code == 0, res.output
    after = [json.loads(x) for x in open(run / "findings.jsonl")]
    assert 0 < len(after) < before and {f["technique"] for f in after} == {"direct"}
    out = tmp_path / "data"
    res = runner.invoke(app, ["curate", str(run), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "curation.json").read_text())["findings"] == len(after)


def test_curate_a_findings_file_distils_the_models_own_refusals(redteam_dir, tmp_path, tiny_model):
    out = tmp_path / "data"
    findings = redteam_dir / "findings.jsonl"
    res = runner.invoke(app, ["curate", str(findings), "--out", str(out), "--model", str(tiny_model)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "curation.json").read_text())
    n = sum(1 for _ in open(findings))
    assert summary["findings"] == n
    # the model answered every un-attacked seed: each finding either took its own answer or was rejected by the
    # judge and fell through, and the rejections are counted by reason
    rejected_self = sum(summary["responses_rejected"].get("self", {}).values())
    assert summary["response_sources"].get("self-distillation", 0) + rejected_self == n
    # the plain-seed answers are kept in the output's store, one per distinct seed
    from breakfix.store import Store

    with Store(out / "run.db") as store:
        stored = sum(store.count_attempts().values())
    assert stored == len({json.loads(line)["seed_id"] for line in open(findings)})


def test_refusal_only_and_share_flags(redteam_dir, tmp_path):
    out = tmp_path / "data"
    res = runner.invoke(
        app, ["curate", str(redteam_dir), "--out", str(out), "--no-benign-contrast", "--safety-share", "0.5"]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in open(out / "dpo.jsonl")]
    assert rows and all(r["meta"]["category"] != "benign" for r in rows)
    sft = [json.loads(x) for x in open(out / "sft.jsonl")]
    n_safety = sum(r["meta"]["category"] != "benign" for r in sft)
    assert abs(n_safety / len(sft) - 0.5) <= 1 / len(sft)


@pytest.mark.parametrize(
    "content, match",
    [
        ('{"attempt_id": "a"}\n', "line 1: category: missing"),
        ("not json\n", "line 1"),
        ("", "no findings"),
    ],
)
def test_bad_findings_files_exit_2_and_write_nothing(tmp_path, content, match):
    f = tmp_path / "findings.jsonl"
    f.write_text(content)
    out = tmp_path / "out"
    res = runner.invoke(app, ["curate", str(f), "--out", str(out)])
    assert res.exit_code == 2 and match in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_curate_bad_sources_exit_2(tmp_path, redteam_dir):
    res = runner.invoke(app, ["curate", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no such run directory or findings file" in res.output
    res = runner.invoke(app, ["curate", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no run.db" in res.output
    res = runner.invoke(app, ["curate", str(redteam_dir), "--out", str(tmp_path / "o"), "--round", "3"])
    assert res.exit_code == 2 and "--round" in res.output
    res = runner.invoke(app, ["curate", str(redteam_dir), "--out", str(tmp_path / "o"), "--helpful", "no/such-ds"])
    assert res.exit_code == 2 and "no/such-ds" in res.output
    assert not (tmp_path / "o").exists()


def _chats(n):
    return [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(n)
    ]


def test_helpful_data_from_jsonl_dataset_dir_and_hub(tmp_path):
    from datasets import Dataset

    f = tmp_path / "h.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in _chats(3)))
    assert [r["messages"][0]["content"] for r in load_helpful(str(f))] == ["q0", "q1", "q2"]
    # a local dataset dir in the hub's layout (parquet shards), loaded through datasets.load_dataset
    d = tmp_path / "ds" / "data"
    d.mkdir(parents=True)
    Dataset.from_list(_chats(5)).to_parquet(str(d / "train-00000-of-00001.parquet"))
    rows = load_helpful(str(tmp_path / "ds"))
    assert len(rows) == 5 and rows[0]["meta"]["category"] == "benign"
    # a parquet file with the wrong columns is named with the column
    Dataset.from_list([{"text": "x"}]).to_parquet(str(tmp_path / "bad.parquet"))
    with pytest.raises(BreakfixError, match="bad.parquet: messages: column missing"):
        load_helpful(str(tmp_path / "bad.parquet"))
    # a hub id that is not cached, offline: one clear line
    with pytest.raises(BreakfixError, match="HuggingFaceH4/no-such-dataset"):
        load_helpful("HuggingFaceH4/no-such-dataset:train_sft")
