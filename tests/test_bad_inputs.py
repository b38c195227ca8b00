"""The bad-input corpus: each case exits with code 2 and one line on stderr that names the file (or command), the
field and the reason, prints no traceback, and writes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from breakfix.cli import main

GOOD_CHAT = {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "hello"}]}
FINDING = {"attempt_id": "a", "round": 0, "category": "S1", "technique": "direct", "language": "en",
           "seed_id": "s", "seed_text": "x", "prompt": [{"role": "user", "content": "x"}], "response": "y",
           "severity": 3}  # fmt: skip


def _yaml(text: str) -> dict[str, str | bytes]:
    return {"c.yaml": text}


def _model_dir(*, config: str | None = "{}", weights: str | None = "model.safetensors", tokenizer: bool = True):
    files: dict[str, str | bytes] = {}
    if config is not None:
        files["m/config.json"] = config
    if weights is not None:
        files[f"m/{weights}"] = b"\0" * 16
    if tokenizer:
        files["m/tokenizer.json"] = "{}"
    return files


RUN = ["run", "--config", "{t}/c.yaml", "--out", "{t}/out"]
CURATE = ["curate", "{t}/f.jsonl", "--out", "{t}/out"]
TRAIN = ["train", "{t}/d", "--model", "{t}/m", "--out", "{t}/out"]
MODEL_OK = _model_dir()

# (id, files, argv, what the line must contain)
CASES: list[tuple[str, dict[str, str | bytes], list[str], list[str]]] = [
    # ---- configs ---------------------------------------------------------------------------------------------------
    ("config-seed-wrong-type", _yaml("seed: abc"), RUN, ["c.yaml", "seed", "integer"]),
    ("config-batch-wrong-type", _yaml("model: {batch_size: big}"), RUN, ["c.yaml", "model.batch_size", "integer"]),
    ("config-batch-zero", _yaml("model: {batch_size: 0}"), RUN, ["c.yaml", "model.batch_size", "greater than"]),
    ("config-unknown-top-key", _yaml("colour: red"), RUN, ["c.yaml", "colour", "unknown key"]),
    ("config-unknown-nested-key", _yaml("redteam: {technique: [direct]}"), RUN, ["redteam.technique", "unknown key"]),
    ("config-missing-model", _yaml("model: {path: /no/such/model}"), RUN, ["/no/such/model", "does not exist"]),
    ("config-model-not-a-mapping", _yaml("model: demo"), RUN, ["c.yaml", "model", "valid dictionary"]),
    ("config-not-a-mapping", _yaml("- a\n- b"), RUN, ["c.yaml", "YAML mapping"]),
    ("config-invalid-yaml", _yaml("model: {path: [unclosed"), RUN, ["c.yaml", "invalid YAML"]),
    ("config-not-utf8", {"c.yaml": b"name: \xff\xfe\n"}, RUN, ["c.yaml", "UTF-8"]),
    ("config-file-missing", {}, RUN, ["c.yaml", "not found"]),
    ("config-unknown-technique", _yaml("redteam: {techniques: [nope]}"), RUN, ["redteam.techniques", "nope"]),
    ("config-bad-language", _yaml("redteam: {languages: [English]}"), RUN, ["redteam.languages", "ISO 639"]),
    ("config-llm-judge-no-model", _yaml("judge: llm"), RUN, ["c.yaml", "judge_model"]),
    (
        "config-api-key-in-config",
        _yaml("judge: llm\njudge_model: {model: m, base_urls: ['http://x/v1'], api_key: sk-1}"),
        RUN,
        ["judge_model.api_key", "unknown key"],
    ),  # fmt: skip
    (
        "config-api-key-as-env-name",
        _yaml("judge: llm\njudge_model: {model: m, base_urls: ['http://x/v1'], api_key_env: 'sk-live-123'}"),
        RUN,
        ["judge_model.api_key_env", "environment variable"],
    ),  # fmt: skip
    (
        "config-base-url-scheme",
        _yaml("judge: llm\njudge_model: {model: m, base_urls: ['x.com/v1']}"),
        RUN,
        ["judge_model.base_urls", "http"],
    ),  # fmt: skip
    ("config-openai-no-url", _yaml("judge: llm\njudge_model: {model: m}"), RUN, ["judge_model", "base_urls"]),
    ("config-safety-share", _yaml("curation: {safety_share: 1.5}"), RUN, ["curation.safety_share", "less than"]),
    ("config-templates-missing", _yaml("curation: {templates: /no/t.jsonl}"), RUN, ["curation", "/no/t.jsonl"]),
    ("config-training-method", _yaml("training: {method: ppo}"), RUN, ["training.method", "sft+dpo"]),
    (
        "config-accelerate-missing",
        _yaml("training: {accelerate_config: /no/a.yaml}"),
        RUN,
        ["training.accelerate_config", "/no/a.yaml"],
    ),  # fmt: skip
    ("config-max-rounds-negative", _yaml("cycle: {max_rounds: -1}"), RUN, ["cycle.max_rounds", "greater than"]),
    ("config-max-new-tokens-zero", _yaml("generation: {max_new_tokens: 0}"), RUN, ["generation.max_new_tokens"]),
    ("config-target-over-one", _yaml("cycle: {targets: {harmful: 2}}"), RUN, ["cycle.targets.harmful"]),
    # ---- datasets --------------------------------------------------------------------------------------------------
    (
        "findings-bad-jsonl",
        {"f.jsonl": json.dumps(FINDING) + "\n{not json\n"},
        CURATE,
        ["f.jsonl", "line 2", "invalid JSON"],
    ),
    ("findings-not-an-object", {"f.jsonl": "[1, 2]\n"}, CURATE, ["f.jsonl", "line 1", "JSON object"]),
    ("findings-wrong-columns", {"f.jsonl": json.dumps({"text": "x"}) + "\n"}, CURATE, ["f.jsonl", "line 1"]),
    ("findings-empty", {"f.jsonl": ""}, CURATE, ["f.jsonl", "no findings"]),
    ("findings-not-utf8", {"f.jsonl": b'{"response": "\xff"}\n'}, CURATE, ["f.jsonl", "UTF-8"]),
    (
        "findings-giant-line",
        {"f.jsonl": '{"response": "' + "x" * (17 << 20) + '"}\n'},
        CURATE,
        ["f.jsonl", "line 1", "longer than"],
    ),  # fmt: skip
    ("findings-missing", {}, CURATE, ["f.jsonl", "no such run directory or findings file"]),
    (
        "train-sft-wrong-columns",
        {**MODEL_OK, "d/sft.jsonl": json.dumps({"text": "x"}) + "\n", "d/dpo.jsonl": ""},
        TRAIN,
        ["sft.jsonl", "line 1: prompt", "required"],
    ),  # fmt: skip
    (
        "train-dpo-wrong-columns",
        {
            **MODEL_OK,
            "d/sft.jsonl": json.dumps(GOOD_CHAT) + "\n",
            "d/dpo.jsonl": json.dumps({"prompt": GOOD_CHAT["prompt"], "chosen": GOOD_CHAT["completion"]}) + "\n",
        },
        TRAIN,
        ["dpo.jsonl", "line 1: rejected", "required"],
    ),  # fmt: skip
    (
        "train-bad-roles",
        {
            **MODEL_OK,
            "d/sft.jsonl": json.dumps({**GOOD_CHAT, "completion": [{"role": "robot", "content": "x"}]}) + "\n",
            "d/dpo.jsonl": "",
        },
        TRAIN,
        ["sft.jsonl", "line 1: completion[0]", "role"],
    ),  # fmt: skip
    ("train-empty-data", {**MODEL_OK, "d/sft.jsonl": "", "d/dpo.jsonl": ""}, TRAIN, ["d", "no rows"]),
    ("train-not-utf8", {**MODEL_OK, "d/sft.jsonl": b"\xff\xfe", "d/dpo.jsonl": ""}, TRAIN, ["sft.jsonl", "UTF-8"]),
    (
        "seeds-wrong-columns",
        {"s.jsonl": json.dumps({"prompt_text": "x"}) + "\n"},
        [
            "redteam",
            "--out",
            "{t}/out",
            "--endpoint",
            "http://127.0.0.1:9/v1",
            "--served-model",
            "m",
            "--seeds",
            "{t}/s.jsonl",
        ],
        ["s.jsonl", "line 1"],
    ),  # fmt: skip
    (
        "labels-bad-jsonl",
        {"l.jsonl": "{oops\n"},
        ["judge-audit", "--labels", "{t}/l.jsonl"],
        ["l.jsonl", "line 1", "invalid JSON"],
    ),  # fmt: skip
    (
        "helpful-missing",
        {"f.jsonl": json.dumps(FINDING) + "\n"},
        [*CURATE, "--helpful", "{t}/none.jsonl"],
        ["none.jsonl"],
    ),  # fmt: skip
    # ---- paths and model dirs --------------------------------------------------------------------------------------
    (
        "model-pickle-only",
        {**_model_dir(weights="pytorch_model.bin"), **_yaml("model: {path: '{t}/m'}")},
        RUN,
        ["m", "weights", "pickle"],
    ),  # fmt: skip
    (
        "model-missing-tokenizer",
        {**_model_dir(tokenizer=False), **_yaml("model: {path: '{t}/m'}")},
        RUN,
        ["m", "tokenizer", "missing"],
    ),  # fmt: skip
    (
        "model-no-config-json",
        {**_model_dir(config=None), **_yaml("model: {path: '{t}/m'}")},
        RUN,
        ["config.json", "missing"],
    ),  # fmt: skip
    (
        "model-bad-config-json",
        {**_model_dir(config="{bad"), **_yaml("model: {path: '{t}/m'}")},
        RUN,
        ["config.json", "not valid JSON"],
    ),  # fmt: skip
    ("model-no-weights", {**_model_dir(weights=None), **_yaml("model: {path: '{t}/m'}")}, RUN, ["m", "weights"]),
    ("model-broken-tokenizer", {**MODEL_OK, **_yaml("model: {path: '{t}/m'}")}, RUN, ["m", "tokenizer", "cannot load"]),
    ("model-is-a-file", {"m": "x", **_yaml("model: {path: '{t}/m'}")}, RUN, ["m", "not a directory"]),
    (
        "train-model-pickle-only",
        {**_model_dir(weights="pytorch_model.bin"), "d/sft.jsonl": json.dumps(GOOD_CHAT), "d/dpo.jsonl": ""},
        TRAIN,
        ["m", "weights", "pickle"],
    ),  # fmt: skip
    (
        "bench-model-missing-tokenizer",
        _model_dir(tokenizer=False),
        ["bench", "--model", "{t}/m", "--out", "{t}/out"],
        ["m", "tokenizer"],
    ),  # fmt: skip
    # ---- command-line arguments ------------------------------------------------------------------------------------
    ("cli-unknown-option", {}, ["run", "--bogus"], ["breakfix run", "--bogus"]),
    ("cli-missing-option", {}, ["train", "{t}/d"], ["breakfix train", "--out"]),
    ("cli-bad-choice", {}, ["train", "{t}/d", "--out", "{t}/out", "--method", "ppo"], ["training.method"]),
    ("cli-unknown-command", {}, ["redtaem"], ["breakfix", "redtaem"]),
    (
        "cli-not-a-number",
        {},
        ["curate", "{t}/f.jsonl", "--out", "{t}/out", "--safety-share", "lots"],
        ["breakfix curate", "--safety-share"],
    ),  # fmt: skip
    ("cli-bad-gate", {}, ["bench", "--fail-above", "harmful", "--out", "{t}/out"], ["--fail-above", "KEY=VALUE"]),
    ("cli-report-not-a-run", {}, ["report", "{t}/nothing"], ["nothing", "not a directory"]),
    ("cli-compare-no-report", {"a/x": "", "b/x": ""}, ["compare", "{t}/a", "{t}/b"], ["a", "report.json"]),
    ("cli-run-out-is-a-file", {**_yaml("name: x"), "out": "a file"}, RUN, ["out", "not a directory"]),
    (
        "cli-num-processes-zero",
        {**MODEL_OK, "d/sft.jsonl": json.dumps(GOOD_CHAT), "d/dpo.jsonl": ""},
        [*TRAIN, "--num-processes", "0"],
        ["breakfix train", "--num-processes", "greater than or equal to 1"],
    ),  # fmt: skip
    (
        "train-broken-tokenizer",
        {**MODEL_OK, "d/sft.jsonl": json.dumps(GOOD_CHAT), "d/dpo.jsonl": ""},
        TRAIN,
        ["m", "tokenizer", "cannot load"],
    ),  # fmt: skip
    ("cli-persona-unknown", {}, ["redteam", "--out", "{t}/out", "--persona", "genius"], ["persona"]),
    # ---- twins, per-suite limits -----------------------------------------------------------------------------------
    ("config-twin-kind-unknown", _yaml("curation: {twins: {kinds: [puns]}}"), RUN,
     ["c.yaml", "curation.twins.kinds", "puns"]),
    ("config-twins-per-seed-zero", _yaml("curation: {twins: {per_seed: 0}}"), RUN,
     ["c.yaml", "curation.twins.per_seed"]),
    ("config-suite-limit-unknown-suite", _yaml("benchmarks: {suite_limits: {nosuch: 10}}"), RUN,
     ["c.yaml", "benchmarks.suite_limits", "nosuch"]),
    ("config-selection-suite-limit-zero", _yaml("cycle: {selection: {suite_limits: {capability: 0}}}"), RUN,
     ["c.yaml", "cycle.selection.suite_limits", "capability"]),
    ("twins-bad-kind", _yaml("curation: {twins: {kinds: [puns]}}"), ["datasets", "twins", "{t}/c.yaml", "--out",
     "{t}/t.jsonl"], ["c.yaml", "curation.twins.kinds"]),
]  # fmt: skip


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    _, files, argv, expect = case
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content.replace("{t}", str(tmp_path)), encoding="utf-8")
    before = _files(tmp_path)
    monkeypatch.setattr(sys, "argv", ["breakfix", *[a.replace("{t}", str(tmp_path)) for a in argv]])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if x.strip()]
    assert exit_.value.code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    for fragment in expect:
        assert fragment.replace("{t}", str(tmp_path)) in lines[0], (fragment, lines[0])
    assert _files(tmp_path) == before, "something was written"


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    kinds = {c[0].split("-")[0] for c in CASES}
    assert {"config", "findings", "train", "model", "cli", "seeds"} <= kinds
