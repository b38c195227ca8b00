"""Post-training: LoRA train-merge-reload, DPO metrics, bad training data, and `breakfix train` through
`accelerate launch` (2 CPU processes, DDP over gloo) matching a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from breakfix.curation.datasets import write_dataset
from breakfix.curation.pairs import chat_to_sft_row, dpo_row
from breakfix.demo.world import DemoWorld, refusal_text
from breakfix.errors import BreakfixError
from breakfix.jobs.train import load_training_rows
from breakfix.training.dpo import DPOSettings, train_dpo
from breakfix.training.launch import LaunchSettings, accelerate_command
from breakfix.training.sft import SFTSettings, train_sft


def _data(n_sft: int = 64, n_dpo: int = 32) -> tuple[list[dict], list[dict]]:
    helpful = DemoWorld(0).helpful_data()
    sft = [chat_to_sft_row(r["messages"], {"category": "benign"}) for r in helpful[:n_sft]]
    dpo = [
        dpo_row(r["messages"][:-1], r["messages"][-1]["content"], refusal_text("default", "en"), {"category": "benign"})
        for r in helpful[n_sft : n_sft + n_dpo]
    ]
    return sft, dpo


def _logits(model_dir, ids):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    with torch.no_grad():
        return model(ids).logits


def test_lora_trains_merges_and_reloads(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    sft, _ = _data(32)
    out = tmp_path / "lora"
    res = train_sft(tiny_model, sft, out, SFTSettings(lora=True, lora_r=4, epochs=1, batch_size=8, learning_rate=5e-3))
    assert res.steps == 4 and res.tokens > 0 and res.final("train_loss") is not None
    assert (out / "model.safetensors").is_file() and (out / "adapter" / "adapter_config.json").is_file()
    assert not list(out.glob("*.bin"))
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    merged, base = _logits(out, ids), _logits(tiny_model, ids)
    assert not torch.allclose(merged, base, atol=1e-4)  # training changed the model
    # the merged weights are exactly base + adapter
    peft = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(tiny_model), dtype=torch.float32), str(out / "adapter")
    )
    with torch.no_grad():
        assert torch.allclose(peft(ids).logits, merged, atol=1e-4)
    cfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert cfg["r"] == 4 and cfg["lora_alpha"] == 8


def test_snapshots_along_lora_training_are_full_model_dirs(tiny_model, tmp_path):
    """A LoRA run's snapshots: the adapter saved mid-stage, then merged into a full model dir that loads alone; the
    stage ends are candidates too, and the SFT checkpoint stays for the cycle to score."""
    from breakfix.config import parse_config
    from breakfix.training.common import Snapshots
    from breakfix.training.pipeline import train_pipeline

    sft, dpo = _data(32, 16)
    lora = {"lora": True, "lora_r": 4, "epochs": 1, "batch_size": 8}
    cfg = parse_config({"training": {"sft": {**lora, "learning_rate": 5e-3}, "dpo": lora}}).training
    snaps = Snapshots(root=tmp_path / "cands", steps={"sft": [2]}, taken=[])
    train_pipeline(cfg, tiny_model, sft, dpo, tmp_path / "cands" / "final", snapshots=snaps)
    assert [(t["name"], t["stage"], t["step"]) for t in snaps.taken] == [("sft-2", "sft", 2), ("sft-4", "sft", 4),
                                                                        ("dpo-2", "dpo", 2)]  # fmt: skip
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    logits = [_logits(Path(t["path"]), ids) for t in snaps.taken]
    for t in snaps.taken:  # each loads as a plain model, and keeps its adapter
        assert (Path(t["path"]) / "model.safetensors").is_file() and (Path(t["path"]) / "adapter").is_dir()
    assert not torch.allclose(logits[0], logits[1], atol=1e-5) and not torch.allclose(logits[1], logits[2], atol=1e-5)
    assert snaps.taken[-1]["path"] == str(tmp_path / "cands" / "final")


def test_dpo_with_sft_term_logs_rewards(tiny_model, tmp_path):
    _, dpo = _data(0, 16)
    settings = DPOSettings(epochs=1, batch_size=8, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.5])
    res = train_dpo(tiny_model, dpo, tmp_path / "dpo", settings)
    assert res.steps == 2 and res.final("rewards/margins") is not None and res.final("rewards/accuracies") is not None
    with pytest.raises(ValueError, match="one weight per loss_type"):
        DPOSettings(loss_type=["sigmoid", "sft"], loss_weights=[1.0])


def test_bad_training_rows_are_named(tmp_path):
    f = tmp_path / "dpo.jsonl"
    f.write_text(json.dumps({"prompt": [{"role": "user", "content": "hi"}], "chosen": []}) + "\n")
    with pytest.raises(BreakfixError, match=r"dpo.jsonl: line 1: chosen: must be a non-empty list"):
        load_training_rows(f, "dpo")
    f.write_text(json.dumps({"prompt": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(BreakfixError, match="line 1: completion: required"):
        load_training_rows(f, "sft")


def test_accelerate_command_launches_cpu_configs_through_torchrun(tmp_path):
    conf = tmp_path / "acc.yaml"
    conf.write_text(yaml.safe_dump({"distributed_type": "MULTI_CPU", "num_processes": 2, "use_cpu": True}))
    cmd = accelerate_command(LaunchSettings(accelerate_config=str(conf)), tmp_path / "job.json")
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in cmd
    assert cmd[-3:] == ["-m", "breakfix.training.launch", str(tmp_path / "job.json")]
    conf.write_text(yaml.safe_dump({"distributed_type": "DEEPSPEED", "num_processes": 8}))
    cmd = accelerate_command(LaunchSettings(accelerate_config=str(conf)), tmp_path / "job.json")
    assert "--multi_gpu" not in cmd and cmd[cmd.index("--config_file") + 1] == str(conf)
    conf.write_text("- not a mapping\n")
    with pytest.raises(BreakfixError, match="must be a YAML mapping"):
        accelerate_command(LaunchSettings(accelerate_config=str(conf)), tmp_path / "job.json")


def _train_cli(data: Path, out: Path, config: dict, *extra: str) -> dict:
    cfg = out.with_suffix(".yaml")
    cfg.write_text(yaml.safe_dump(config))
    env = {**os.environ, "BREAKFIX_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "breakfix", "train", str(data), "--out", str(out), "--model", "demo", "-c", str(cfg)]
    proc = subprocess.run([*cmd, *extra], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "train.json").read_text())


def test_breakfix_train_through_accelerate_launch_matches_single_process(tmp_path):
    """2 CPU processes with DDP over gloo, each with half the batch, take the same optimizer steps on the same rows
    as one process with the whole batch, so the losses agree to rounding."""
    data = tmp_path / "data"
    sft, dpo = _data(64, 32)
    write_dataset(data, sft, dpo, {}, "test")
    acc = tmp_path / "accelerate.yaml"
    acc.write_text(
        yaml.safe_dump({"distributed_type": "MULTI_CPU", "num_processes": 2, "use_cpu": True, "num_machines": 1})
    )

    def config(batch: int) -> dict:
        stage = {"epochs": 1, "batch_size": batch, "learning_rate": 1e-4}
        return {"training": {"method": "sft+dpo", "sft": stage, "dpo": stage}}

    single = _train_cli(data, tmp_path / "single", config(16))
    ddp = _train_cli(data, tmp_path / "ddp", config(8), "--accelerate-config", str(acc))
    assert ddp["training"]["launch"]["accelerate_config"] == str(acc)
    # SFT's loss is averaged over the tokens of all devices, so it matches closely (measured: 0.5925 vs 0.5907).
    # DPO's SFT term is a per-device token mean that DDP then averages, which drifts a little (1.2500 vs 1.2262).
    for stage, steps, rel in (("sft", 4, 0.02), ("dpo", 2, 0.05)):
        a, b = single["training"][stage], ddp["training"][stage]
        assert a["steps"] == b["steps"] == steps
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=rel), stage
    assert ddp["training"]["dpo"]["reward_margin"] is not None
    # the distributed result is a normal safetensors checkpoint that loads and generates
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import HFBackend

    backend = HFBackend(str(tmp_path / "ddp" / "model"))
    reply = backend.generate([[{"role": "user", "content": "What is the capital of France?"}]], GenerationConfig())
    assert isinstance(reply[0], str)
    assert not list((tmp_path / "ddp").glob(".*job"))  # the job files are cleaned up


def test_report_to_passes_through_to_tensorboard(tiny_model, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sft, _ = _data(16)
    logs = tmp_path / "tb"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(logs))
    train_sft(tiny_model, sft, tmp_path / "m", SFTSettings(epochs=2, batch_size=4, report_to=["tensorboard"]))
    events = list(logs.rglob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert "train/loss" in acc.Tags()["scalars"]


def test_training_config_takes_an_accelerate_config(tmp_path):
    from breakfix.config import parse_config

    acc = tmp_path / "fsdp.yaml"
    acc.write_text(yaml.safe_dump({"distributed_type": "FSDP", "num_processes": 8, "fsdp_config": {}}))
    cfg = parse_config({"training": {"accelerate_config": str(acc), "sft": {"lora": True}}})
    assert cfg.training.launch().distributed and cfg.training.sft.lora
    with pytest.raises(BreakfixError, match=r"training.accelerate_config: accelerate config not found"):
        parse_config({"training": {"accelerate_config": str(tmp_path / "nope.yaml")}}, "run.yaml")


def test_a_failing_launched_stage_reports_the_workers_error(tmp_path):
    from breakfix.training.launch import train_stage

    sft, _ = _data(8)
    with pytest.raises(RuntimeError, match=r"accelerate launch of the sft stage failed.*rank \d: .*no-such-model"):
        train_stage("sft", tmp_path / "no-such-model", sft, tmp_path / "out", SFTSettings(),
                    launch=LaunchSettings(num_processes=2))  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_breakfix_train_bad_inputs_exit_2_and_write_nothing(tmp_path):
    from typer.testing import CliRunner

    from breakfix.cli import app

    data = tmp_path / "data"
    sft, dpo = _data(4, 4)
    write_dataset(data, sft, dpo, {}, "t")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    cases = [
        ([str(tmp_path / "nope")], "not a dataset directory"),
        ([str(tmp_path / "empty")], "no rows for method sft+dpo"),
        ([str(data), "--model", str(tmp_path / "no-model")], "model path does not exist"),
        ([str(data), "--accelerate-config", str(tmp_path / "nope.yaml")], "accelerate_config: accelerate config not"),
        ([str(data), "--method", "rlhf"], "training.method"),
    ]
    for args, match in cases:
        res = CliRunner().invoke(app, ["train", *args, "--out", str(out)])
        assert res.exit_code == 2 and match in res.output and "Traceback" not in res.output, (args, res.output)
        assert not out.exists()


def test_breakfix_train_on_a_run_dir_takes_its_last_curated_round(tiny_model, tmp_path):
    from typer.testing import CliRunner

    from breakfix.cli import app

    run = tmp_path / "run"
    sft, dpo = _data(8, 8)
    write_dataset(run / "rounds" / "0", sft[:4], dpo[:4], {}, "r0")
    write_dataset(run / "rounds" / "1", sft, dpo, {}, "r1")
    (run / "rounds" / "2").mkdir()  # the last round (no data: the loop stopped there)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["train", str(run), "--model", str(tiny_model), "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "train.json").read_text())
    assert result["data"].endswith("rounds/1") and result["training"]["sft"]["steps"] == 2  # 8 rows, batch 16, 2 epochs
    assert (out / "model" / "model.safetensors").is_file()
