"""Bad input gets one line naming the file, the field and the reason, exit code 2, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from breakfix.config import load_config, parse_config
from breakfix.errors import BreakfixError

BREAKFIX = [sys.executable, "-m", "breakfix"]

BAD_CONFIGS = {
    "unknown_key.yaml": ("modle: {path: x}\n", "modle", "unknown key"),
    "wrong_type.yaml": ("seed: many\n", "seed", "integer"),
    "bad_share.yaml": ("curation: {safety_share: 1.5}\n", "curation.safety_share", "less than or equal"),
    "bad_technique.yaml": ("redteam: {techniques: [telepathy]}\n", "redteam.techniques", "unknown technique"),
    "bad_language.yaml": ("redteam: {languages: [xx]}\n", "redteam.languages", "subset"),
    "bad_yaml.yaml": ("seed: [1, 2\n", "line", "invalid YAML"),
    "not_mapping.yaml": ("- 1\n- 2\n", None, "mapping"),
    "bad_loss.yaml": ("training: {dpo: {beta: -1}}\n", "training.dpo.beta", "greater than"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_configs_name_file_field_reason(tmp_path, name):
    text, field, reason = BAD_CONFIGS[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BreakfixError) as e:
        load_config(path)
    msg = str(e.value)
    assert str(path) in msg and reason in msg
    if field:
        assert field in msg


def test_non_utf8_and_missing_config(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("seed: 1 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(BreakfixError, match="UTF-8"):
        load_config(p)
    with pytest.raises(BreakfixError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_defaults_parse():
    cfg = parse_config({})
    assert cfg.training.dpo.loss_type == ["sigmoid", "sft"] and cfg.model.path == "demo"


def _cli(*args, cwd: Path):
    return subprocess.run([*BREAKFIX, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _assert_clean_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0]


def test_cli_bad_config_exits_2_and_writes_nothing(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: nope\n")
    proc = _cli("run", "--config", str(cfg), "--out", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_error(proc, str(cfg), "seed")
    assert not (tmp_path / "out").exists()


def test_cli_missing_model_path_exits_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {{path: {tmp_path / 'no-such-model'}}}\n")
    proc = _cli("run", "--config", str(cfg), "--out", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_error(proc, "no-such-model", "does not exist")
    assert not (tmp_path / "out").exists()


def test_cli_pickle_only_model_refused(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "pytorch_model.bin").write_bytes(b"\x80\x04")
    (model / "tokenizer.json").write_text("{}")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model: {{path: {model}}}\n")
    proc = _cli("run", "--config", str(cfg), "--out", str(tmp_path / "out"), cwd=tmp_path)
    _assert_clean_error(proc, "pickle", "allow_pickle")
    assert not (tmp_path / "out").exists()


def test_cli_missing_config_file(tmp_path):
    proc = _cli("run", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o"), cwd=tmp_path)
    _assert_clean_error(proc, "none.yaml", "not found")


def test_cli_bad_report_dir(tmp_path):
    proc = _cli("report", str(tmp_path), cwd=tmp_path)
    _assert_clean_error(proc, str(tmp_path), "not a run directory")
