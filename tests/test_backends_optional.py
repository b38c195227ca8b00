"""Optional pieces: the vLLM backend's import guard and settings, PyRIT found as an installed package, configs."""

import importlib.util

import pytest

from breakfix import registry
from breakfix.attacks.templates import TEMPLATES, load_pyrit_templates, pyrit_template_dir, render
from breakfix.backends.base import GenerationConfig
from breakfix.backends.vllm import sampling_kwargs
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


def test_vllm_sampling_settings():
    assert sampling_kwargs(GenerationConfig(max_new_tokens=7)) == {
        "max_tokens": 7, "temperature": 0.0, "top_p": 1.0, "seed": 0,
    }  # fmt: skip
    s = sampling_kwargs(GenerationConfig(do_sample=True, temperature=0.7, top_p=0.9, seed=3))
    assert (s["temperature"], s["top_p"], s["seed"]) == (0.7, 0.9, 3)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_vllm_missing_is_a_clear_error():
    from breakfix.backends.vllm import VLLMBackend

    with pytest.raises(BreakfixError, match=r"vLLM is not installed \(pip install 'breakfix\[vllm\]'"):
        VLLMBackend("some/model")


def test_pyrit_templates_from_an_installed_package(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "pyrit"
    tdir = pkg / "datasets" / "jailbreak" / "templates"
    tdir.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (tdir / "jb.yaml").write_text("name: jb\nparameters: [prompt]\nvalue: 'Pretend. {{prompt}} (keep {prompt})'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    before = set(TEMPLATES)
    assert pyrit_template_dir() == tdir
    assert render("pyrit/jb", "REQ") == "Pretend. REQ (keep { prompt })"
    assert "pyrit/jb" in load_pyrit_templates(None)
    assert set(TEMPLATES) == before  # outside a run, loading registers nothing
    with registry.run_local():
        load_pyrit_templates(None)
        assert "pyrit/jb" in TEMPLATES and registry.get("template", "pyrit/jb").origin.endswith("jb.yaml")
    assert set(TEMPLATES) == before
    with pytest.raises(TypeError):
        TEMPLATES["x"] = TEMPLATES["fiction"]  # type: ignore[index]  # a read-only view


def test_pyrit_template_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvalue: 'no slot here'\n")
    with pytest.raises(BreakfixError, match="has no {{ prompt }} slot"):
        load_pyrit_templates(bad)
    with pytest.raises(BreakfixError, match="template path not found"):
        load_pyrit_templates(tmp_path / "missing")


def test_persona_config_and_helper_models():
    cfg = parse_config({"redteam": {"persona": "low_skill"}})
    assert cfg.redteam.effective_techniques()[0] == "direct" and "escalation" not in cfg.redteam.effective_techniques()
    cfg = parse_config({"redteam": {"persona": "low_skill", "techniques": ["converter:hex"]}})
    assert cfg.redteam.effective_techniques()[-1] == "converter:hex"
    att = {"kind": "openai", "model": "a", "base_urls": ["http://127.0.0.1:1/v1"]}
    cfg = parse_config({"redteam": {"persona": "intermediate", "attacker": att}})
    assert {"crescendo", "pair"} <= set(cfg.redteam.effective_techniques())
    with pytest.raises(BreakfixError, match="judge_model"):
        parse_config({"judge": "llm"})
    with pytest.raises(BreakfixError, match="needs 'model' and 'base_urls'"):
        parse_config({"redteam": {"attacker": {"kind": "openai", "model": "a"}}})
    with pytest.raises(BreakfixError, match="needs 'path'"):
        parse_config({"redteam": {"attacker": {"kind": "hf"}}})


def test_judges_from_config():
    from breakfix.judges import EnsembleJudge, LlamaGuardJudge, RubricJudge, build_judge

    ep = {"kind": "openai", "model": "guard", "base_urls": ["http://127.0.0.1:1/v1"]}
    assert isinstance(build_judge(parse_config({"judge": "llama_guard", "judge_model": ep})), LlamaGuardJudge)
    j = build_judge(parse_config({"judge": "llm", "judge_model": ep, "judge_rubric": "strongreject"}))
    assert isinstance(j, RubricJudge) and j.rubric == "strongreject"
    members = [{"judge": "refusal"}, {"judge": "llm", "model": ep}, {"judge": "wildguard", "model": ep}]
    e = build_judge(parse_config({"judge": "ensemble", "judge_ensemble": {"mode": "strictest", "members": members}}))
    assert isinstance(e, EnsembleJudge) and e.mode == "strictest" and len(e.judges) == 3
    with pytest.raises(BreakfixError, match="needs judge_ensemble"):
        parse_config({"judge": "ensemble"})
    with pytest.raises(BreakfixError, match="judge_ensemble.members.0: judge 'llm' needs a model"):
        parse_config({"judge": "ensemble", "judge_ensemble": {"members": [{"judge": "llm"}, {"judge": "demo"}]}})
