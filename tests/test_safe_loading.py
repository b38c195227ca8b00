"""Safe loading: no model code from the model dir and no pickle weights unless the user opts in. The planted code
and pickle below would write a marker file if they ever ran."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from breakfix.backends.hf import check_model_dir, load_pretrained
from breakfix.errors import BreakfixError


class _Bomb:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_weights_are_refused_and_never_unpickled(tiny_model, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    (d / "model.safetensors").unlink()
    marker = tmp_path / "unpickled"
    (d / "pytorch_model.bin").write_bytes(pickle.dumps(_Bomb(str(marker))))
    with pytest.raises(BreakfixError, match="pickle"):
        check_model_dir(d)
    with pytest.raises(BreakfixError, match="model: cannot load"):
        load_pretrained(d)
    assert not marker.exists()


def test_model_code_in_the_dir_never_runs(tiny_model, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    marker = tmp_path / "executed"
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(model_type="breakfix_evil", auto_map={"AutoConfig": "evil.EvilConfig",
                                                     "AutoModelForCausalLM": "evil.EvilModel"})  # fmt: skip
    (d / "config.json").write_text(json.dumps(cfg))
    check_model_dir(d)  # the dir looks fine ...
    with pytest.raises(BreakfixError, match="cannot load"):
        load_pretrained(d)  # ... but its code is not run without trust_remote_code
    assert not marker.exists()


def test_opting_in_to_pickle_still_loads_safetensors(tiny_model):
    tokenizer, model = load_pretrained(tiny_model, allow_pickle=True)
    assert model.num_parameters() > 0 and tokenizer.eos_token


def test_model_trust_remote_code_is_the_one_opt_in_for_training_too():
    from breakfix.config import parse_config

    off = parse_config({})
    assert not (off.model.trust_remote_code or off.training.sft.trust_remote_code or off.training.dpo.trust_remote_code)
    on = parse_config({"model": {"path": "demo", "trust_remote_code": True}})
    assert on.training.sft.trust_remote_code and on.training.dpo.trust_remote_code
