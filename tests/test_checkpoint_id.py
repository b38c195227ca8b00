"""Checkpoint ids: every weight byte counts, training state does not, and hub ids carry their revision."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from breakfix.checkpoints import checkpoint_id

OLD_WINDOW = 64 << 20  # what the ids of store version 2 hashed of each weight file


def old_checkpoint_id(model_dir: Path) -> str:
    """The id of store version 2: each weight file's name, size and first 64 MiB."""
    h = hashlib.sha256()
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        h.update(f.name.encode())
        h.update(str(f.stat().st_size).encode())
        with open(f, "rb") as fh:
            h.update(fh.read(OLD_WINDOW))
    return h.hexdigest()[:24]


def _save(d: Path, tensors: dict[str, torch.Tensor]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(d / "model.safetensors"))
    (d / "config.json").write_text('{"model_type": "llama"}')
    return d


def test_a_change_past_the_first_64_mib_changes_the_id(tmp_path):
    embed = torch.zeros(OLD_WINDOW // 4 + 1024)  # the first tensor fills the old window
    a = _save(tmp_path / "a", {"a.embed": embed, "b.layer": torch.zeros(256)})
    b = _save(tmp_path / "b", {"a.embed": embed, "b.layer": torch.ones(256)})
    assert old_checkpoint_id(a) == old_checkpoint_id(b)  # what made round 1 reuse round 0's attempts
    assert checkpoint_id(a) != checkpoint_id(b)
    assert checkpoint_id(a).startswith("sha256:") and checkpoint_id(a) == checkpoint_id(tmp_path / "a")


def test_the_id_covers_config_and_tokenizer_but_not_training_state(tmp_path):
    d = _save(tmp_path / "m", {"w": torch.arange(8.0)})
    first = checkpoint_id(d)
    (d / "training_args.bin").write_bytes(b"run-specific")
    (d / "README.md").write_text("a model card")
    assert checkpoint_id(d) == first
    (d / "chat_template.jinja").write_text("{{ messages }}")
    second = checkpoint_id(d)
    assert second != first
    (d / "config.json").write_text('{"model_type": "llama", "rope_theta": 5}')
    assert checkpoint_id(d) not in (first, second)


def test_a_rewritten_file_is_hashed_again(tmp_path):
    d = _save(tmp_path / "m", {"w": torch.zeros(8)})
    first = checkpoint_id(d)
    save_file({"w": torch.ones(8)}, str(d / "model.safetensors"))  # same size, new bytes
    assert checkpoint_id(d) != first


def test_a_dir_without_weights_is_an_input_error(tmp_path):
    from breakfix.errors import BreakfixError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BreakfixError, match="no weight files"):
        checkpoint_id(tmp_path)


def test_hub_ids_carry_the_locally_known_revision(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--model-a"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert checkpoint_id("org/model-a") == f"hub:org/model-a@{commit}"
    assert checkpoint_id("org/model-b") == "hub:org/model-b"  # not cached: the revision is unknown


def test_the_default_judge_is_demo_only_for_the_demo_model():
    from breakfix.config import parse_config

    demo = parse_config({})
    assert demo.judge_name == "demo" and demo.judge_note() is None
    real = parse_config({"model": {"path": "/models/SmolLM2-135M-Instruct"}})
    assert real.judge is None and real.judge_name == "refusal"
    assert "refusal" in real.judge_note() and "\n" not in real.judge_note()
    endpoint = {"kind": "openai", "model": "m", "base_urls": ["http://127.0.0.1:1/v1"]}
    assert parse_config({"redteam": {"target": endpoint}}).judge_name == "refusal"
    chosen = parse_config({"model": {"path": "/models/x"}, "judge": "demo"})
    assert chosen.judge_name == "demo" and chosen.judge_note() is None
