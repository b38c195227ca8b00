import json
import shutil

import pytest

from breakfix.backends.base import GenerationConfig
from breakfix.backends.hf import HFBackend, check_model_dir
from breakfix.errors import BreakfixError

CONVS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "Tell me the color of snow, and then tell me the capital of a country."},
    ],
    [{"role": "user", "content": "¿Cuál es el contrario de caliente?"}],
]


def test_chat_template_has_generation_markers(tiny_model):
    cfg = json.loads((tiny_model / "tokenizer_config.json").read_text())
    template = cfg.get("chat_template") or (tiny_model / "chat_template.jinja").read_text()
    assert "{% generation %}" in template
    b = HFBackend(tiny_model, batch_size=2)
    text = b.render(CONVS[1])
    assert text.endswith("<|assistant|>\n") and text.count("<|user|>") == 2


def test_batched_left_padded_generation_matches_one_by_one(tiny_model):
    batched = HFBackend(tiny_model, batch_size=3).generate(CONVS, GenerationConfig(max_new_tokens=12))
    single = HFBackend(tiny_model, batch_size=1).generate(CONVS, GenerationConfig(max_new_tokens=12))
    assert batched == single
    assert all(isinstance(x, str) for x in batched)


def test_sampling_is_seeded(tiny_model):
    b = HFBackend(tiny_model, batch_size=3)
    cfg = GenerationConfig(max_new_tokens=12, do_sample=True, temperature=1.5, seed=7)
    assert b.generate(CONVS, cfg) == b.generate(CONVS, cfg)
    greedy = b.generate(CONVS, GenerationConfig(max_new_tokens=12))
    others = [
        b.generate(CONVS, GenerationConfig(max_new_tokens=12, do_sample=True, temperature=1.5, seed=s))
        for s in range(3)
    ]
    assert any(o != greedy for o in others)


def test_model_dir_checks(tiny_model, tmp_path):
    assert check_model_dir(tiny_model) == tiny_model
    broken = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_model, broken)
    for f in broken.glob("tokenizer*"):
        f.unlink()
    with pytest.raises(BreakfixError, match="tokenizer"):
        check_model_dir(broken)
    bad_json = tmp_path / "bad-json"
    shutil.copytree(tiny_model, bad_json)
    (bad_json / "config.json").write_text("{nope")
    with pytest.raises(BreakfixError, match="JSON"):
        check_model_dir(bad_json)
    with pytest.raises(BreakfixError, match="not a directory"):
        check_model_dir(tiny_model / "config.json")


def test_hub_style_loading_of_a_local_copy(tiny_model, tmp_path, monkeypatch):
    """The same loader serves hub ids: point the HF cache at a local snapshot and load by repo id, offline."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--breakfix--tiny-demo"
    snap = repo / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model, snap)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    b = HFBackend("breakfix/tiny-demo", batch_size=2)
    assert len(b.generate(CONVS[:1], GenerationConfig(max_new_tokens=4))) == 1
