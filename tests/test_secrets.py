"""Secrets: an API key comes only from an environment variable, and it never reaches the run directory, the logs or
the report, even from an endpoint that echoes it back in its errors and its replies."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import yaml
from conftest import small_config

from breakfix.testing.server import FaultProfile, OpenAITestServer

pytestmark = pytest.mark.slow


def test_a_planted_api_key_is_nowhere_in_the_run_logs_or_report(tiny_model, tmp_path):
    key = f"sk-planted-{uuid.uuid4().hex}"
    env_name = "BREAKFIX_TEST_PLANTED_KEY"
    faults = FaultProfile(pleak=0.3, leak_reply=True, require_auth=f"Bearer {key}", seed=1)
    with OpenAITestServer(faults=faults) as server:
        cfg = small_config(tiny_model)
        cfg["redteam"] = {
            "techniques": ["direct", "converter:translate(fr)"],
            "converter_model": {"kind": "openai", "model": "m", "base_urls": [server.base_url],
                                "api_key_env": env_name, "max_retries": 1, "backoff_base": 0.0},
        }  # fmt: skip
        cfg["benchmarks"] = {"suites": ["harmful", "overrefusal"]}
        cfg["cycle"] = {"max_rounds": 0}
        config = tmp_path / "run.yaml"
        config.write_text(yaml.safe_dump(cfg))
        out = tmp_path / "run"
        env = {**__import__("os").environ, env_name: key, "BREAKFIX_NO_PROGRESS": "1"}
        logs = []
        for argv in (["run", "--config", str(config), "--out", str(out)], ["report", str(out)]):
            res = subprocess.run([sys.executable, "-m", "breakfix", *argv], env=env, capture_output=True, text=True)
            logs.append(res.stdout + res.stderr)
            assert res.returncode == 0, res.stderr
        counts = dict(server.state.counts)
        auth = dict(server.state.auth)

    # the key did travel, from the environment to the endpoint, and the endpoint did echo it back
    assert auth.get(f"Bearer {key}", 0) > 0 and counts.get("401", 0) == 0
    assert counts.get("leak", 0) > 0 and counts.get("ok", 0) > 0
    assert key not in config.read_text()
    # ... and it is nowhere on disk or in the logs
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in files) and any(p.name == "run.db" for p in files)
    for p in files:
        assert key.encode() not in p.read_bytes(), f"the key leaked into {p}"
    for log in logs:
        assert key not in log
    db = (out / "run.db").read_bytes() + b"".join(p.read_bytes() for p in out.glob("run.db-*"))
    assert b"Authorization: ***" in db or b"sent with Bearer ***" in db  # what the endpoint echoed, masked


def test_the_key_is_read_from_the_environment_only(tmp_path):
    from breakfix.config import parse_config
    from breakfix.errors import BreakfixError

    ref = {"kind": "openai", "model": "m", "base_urls": ["http://127.0.0.1:9/v1"]}
    with pytest.raises(BreakfixError, match="unknown key"):
        parse_config({"judge": "llm", "judge_model": {**ref, "api_key": "sk-123"}})
    with pytest.raises(BreakfixError, match="environment variable"):
        parse_config({"judge": "llm", "judge_model": {**ref, "api_key_env": "sk-live-123"}})
