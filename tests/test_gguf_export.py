"""GGUF export with llama.cpp's own converter and quantizer, checked against the HF checkpoint, and the build served
by a real llama.cpp server that breakfix starts and stops. Needs llama-cpp-python (the dev extra installs it) and its
sdist for the converter (``make test`` downloads it at set-up and sets BREAKFIX_LLAMA_CPP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from breakfix.checkpoints import checkpoint_id

SDIST = os.environ.get("BREAKFIX_LLAMA_CPP", ".cache/wheels/llama_cpp_python-0.3.36.tar.gz")


@pytest.fixture(scope="module")
def sdist() -> Path:
    p = Path(SDIST)
    if not p.is_file() or not _has_llama_cpp():
        if os.environ.get("BREAKFIX_LLAMA_CPP"):
            pytest.fail(f"{p}: llama-cpp-python or its sdist is missing (make test installs and downloads them)")
        pytest.skip("llama-cpp-python and its sdist are not here (make test provides them)")
    return p


def _has_llama_cpp() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def exported(tiny_model: Path, sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("gguf")
    env = {**os.environ, "BREAKFIX_CACHE": str(tmp_path_factory.mktemp("cache"))}
    r = subprocess.run(
        [sys.executable, "-m", "breakfix", "export", str(tiny_model), "--out", str(out), "--quant", "f16,q8_0,q4_k_m",
         "--llama-cpp", str(sdist), "--verify", "4", "--max-new-tokens", "12"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out, json.loads((out / "manifest.json").read_text()), r.stdout


def test_export_writes_the_builds_a_manifest_and_checks_them(exported, tiny_model):
    import hashlib

    import gguf

    out, manifest, stdout = exported
    assert [f["quant"] for f in manifest["files"]] == ["f16", "q8_0", "q4_k_m"]
    for f in manifest["files"]:
        data = (out / f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
    assert manifest["checkpoint_id"] == checkpoint_id(tiny_model)
    # the demo's locally trained byte-level BPE is unknown to the converter: gpt-2 pre-tokenizer, ids checked
    assert manifest["pre_tokenizer_fallback"] is True
    assert manifest["tokens"]["equal"] == manifest["tokens"]["checked"] >= 5
    reader = gguf.GGUFReader(str(out / manifest["files"][0]["file"]))
    field = reader.fields["tokenizer.chat_template"]
    template = bytes(field.parts[field.data[0]]).decode("utf-8")
    source = (tiny_model / "chat_template.jinja").read_text()
    assert "{% generation %}" in source  # the demo's template has HF-only tags for assistant-only loss ...
    assert "<|assistant|>" in template and "generation %}" not in template  # ... stripped for llama.cpp
    v = manifest["verify"]
    assert v["prompts"] == 4 and len(v["pairs"]) == 4 and 0 <= v["identical"] <= v["same_first_8_words"] <= 4
    assert "token ids: llama.cpp equals HF" in stdout and "greedy check" in stdout


def test_a_real_llama_cpp_server_serves_the_build_and_stops(exported):
    import psutil

    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.llamacpp import llama_server
    from breakfix.backends.openai_compat import OpenAICompatBackend

    out, manifest, _ = exported
    q8 = out / manifest["files"][1]["file"]
    with llama_server(q8, n_ctx=512) as base:
        backend = OpenAICompatBackend("q8", base, concurrency=1)
        (reply,) = backend.generate([[{"role": "user", "content": "What is the capital of France?"}]],
                                    GenerationConfig(max_new_tokens=8))  # fmt: skip
        pids = [p.pid for p in psutil.Process().children() if "llama_cpp.server" in " ".join(p.cmdline())]
        assert isinstance(reply, str) and len(pids) == 1
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(KeyboardInterrupt), llama_server(q8, n_ctx=512):
        raise KeyboardInterrupt  # Ctrl-C inside the block still stops the server
    assert not [p for p in psutil.Process().children() if "llama_cpp.server" in " ".join(p.cmdline())]


def test_export_input_errors_are_one_line(tiny_model, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from breakfix.cli import app

    monkeypatch.delenv("BREAKFIX_LLAMA_CPP", raising=False)
    r = CliRunner().invoke(app, ["export", str(tiny_model), "--out", str(tmp_path / "x"), "--quant", "q9_z"])
    assert r.exit_code == 2 and "unknown quant 'q9_z'" in r.output and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(app, ["export", "--model", str(tiny_model), "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and "convert_hf_to_gguf.py" in r.output and "--llama-cpp" in r.output
    assert not (tmp_path / "y").exists()  # nothing written
    r = CliRunner().invoke(app, ["export", "--out", str(tmp_path / "z")])
    assert r.exit_code == 2 and "--model DIR" in r.output and len(r.output.strip().splitlines()) == 1


def test_bench_a_gguf_build_under_llama_cpp_against_the_hf_checkpoint(exported, tiny_model, tmp_path):
    """`bench --gguf` starts the server, benchmarks through it (paired with the HF checkpoint), and stops it."""
    import psutil

    out, manifest, _ = exported
    q8 = out / manifest["files"][1]["file"]
    r = subprocess.run(
        [sys.executable, "-m", "breakfix", "bench", "--gguf", str(q8), "--baseline", str(tiny_model), "--world", "demo",
         "--judge", "demo", "--suite", "harmful", "--suite", "overrefusal", "--limit", "4", "--max-new-tokens", "12",
         "--fail-above", "harmful=+1.0", "--out", str(tmp_path / "b")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert result["model"]["checkpoint"] == "gguf:sha256:" + manifest["files"][1]["sha256"]
    assert result["model"]["benchmarks"]["harmful"]["n"] + result["model"]["benchmarks"]["harmful"]["errors"] == 4
    assert result["model"]["benchmarks"]["harmful"]["errors"] == 0 and set(result["paired"]) == {
        "harmful",
        "overrefusal",
    }
    assert "llama.cpp server (pid" in r.stdout + r.stderr and "gate harmful <= baseline+1: " in r.stdout
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(q8) in " ".join(p.info["cmdline"] or [])]


def test_redteam_a_gguf_build_under_llama_cpp(exported, tmp_path):
    out, manifest, _ = exported
    q4 = out / manifest["files"][2]["file"]
    cmd = [sys.executable, "-m", "breakfix", "redteam", "--gguf", str(q4), "--world", "demo", "--judge", "demo",
           "--technique", "direct", "--limit", "3", "--max-new-tokens", "12", "--out", str(tmp_path / "r")]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / "r" / "redteam.json").read_text())["summary"]
    assert s["attempts"] >= 3 and s["errors"] == 0 and "llama.cpp server (pid" in r.stdout + r.stderr


def test_set_up_s_server_check_answers_and_names_the_build(exported, tmp_path):
    """`make llama` ends with this check: one completion from a real server, and the CPU features of the build."""
    out, manifest, _ = exported
    r = subprocess.run([sys.executable, "-m", "breakfix.backends.llamacpp", "--check", str(out / manifest["files"][1]
                        ["file"])], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0 and r.stdout.startswith("llama.cpp server answered ") and "AVX" in r.stdout, r.stderr
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(60))
    r = subprocess.run([sys.executable, "-m", "breakfix.backends.llamacpp", "--check", str(bad)], capture_output=True,
                       text=True, timeout=300)  # fmt: skip
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "llama.cpp cannot serve on this machine" in r.stderr and "exited with code" in r.stderr


def test_the_installed_llama_cpp_is_the_portable_build(sdist):
    """`make test` installs the wheel it built with no native flags (BREAKFIX_LLAMA_TAG names the folder): on
    x86-64 that build uses AVX2 and nothing newer, whatever this host's CPU has (a wheel from pip's cache, built
    natively elsewhere, would say AVX512 or AMX here)."""
    from breakfix.backends.llamacpp import system_info

    tag = os.environ.get("BREAKFIX_LLAMA_TAG")
    if tag is None:
        pytest.skip("not installed by make llama (BREAKFIX_LLAMA_TAG is unset)")
    info = system_info()
    if tag == "x86_64-avx2":
        assert "AVX2 = 1" in info and "AVX512" not in info and "AMX" not in info, info


def test_a_server_killed_mid_run_stops_it_in_one_line_and_a_rerun_retries(exported, tmp_path):
    """Kill the llama.cpp server with SIGSEGV under a running red team (as a build for another CPU dies): the run
    stops at once with exit code 1 and one line naming the signal and the server's last output; what was sent is
    recorded as errors (never as safe), nothing answered is lost, and the same command again finishes the rest."""
    import signal
    import sqlite3
    import time

    import psutil
    import yaml

    out, manifest, _ = exported
    q8 = out / manifest["files"][1]["file"]
    run = tmp_path / "r"
    config = tmp_path / "c.yaml"  # slow retries: retrying a dead server blindly would take minutes
    config.write_text(yaml.safe_dump({"redteam": {"target": {"max_retries": 4, "backoff_base": 30.0}}}))
    cmd = [sys.executable, "-m", "breakfix", "redteam", "-c", str(config), "--gguf", str(q8), "--world", "demo",
           "--judge", "demo", "--technique", "direct", "--technique", "template:roleplay_dan", "--max-new-tokens", "24",
           "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, serving, killed = time.monotonic() + 300, None, None
    while time.monotonic() < deadline and proc.poll() is None:
        kids = [p for p in psutil.Process(proc.pid).children() if "llama_cpp.server" in " ".join(p.cmdline())]
        if kids and serving is None and any(c.status == psutil.CONN_LISTEN for c in kids[0].net_connections("tcp")):
            serving = time.monotonic()  # the red team starts as soon as /v1/models answers
        if serving is not None and time.monotonic() - serving > 1.5:
            kids[0].send_signal(signal.SIGSEGV)
            killed = time.monotonic()
            break
        time.sleep(0.02)
    stdout, stderr = proc.communicate(timeout=600)
    assert killed is not None, f"the run ended before the server could be killed: {stdout[-2000:]}"
    assert proc.returncode == 1, stdout[-2000:] + stderr[-2000:]
    assert time.monotonic() - killed < 60  # no backoff of 30 s and more: it stopped at the first failure
    lines = stderr.strip().splitlines()  # the run's log, then the error
    assert "Traceback" not in stderr and [x for x in lines if x.startswith("error: ")] == lines[-1:], stderr[-3000:]
    assert f"serving {q8.name} was killed by SIGSEGV; its last output: " in lines[-1]
    with sqlite3.connect(run / "run.db") as db:
        rows = dict(db.execute("SELECT status, COUNT(*) FROM attempts GROUP BY status").fetchall())
        reasons = {r for (r,) in db.execute("SELECT error FROM attempts WHERE status = 'error'")}
    assert rows.get("ok", 0) > 0 and rows.get("error", 0) > 0, rows  # some answered; those in flight are errors
    assert all("killed by SIGSEGV" in r for r in reasons), reasons
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads((run / "redteam.json").read_text())["summary"]
    assert second["errors"] == 0 and second["attempts"] > rows["ok"] + rows["error"]  # the unsent ones ran too
    with sqlite3.connect(run / "run.db") as db:
        assert dict(db.execute("SELECT status, COUNT(*) FROM attempts GROUP BY status").fetchall()) == {
            "ok": second["attempts"]
        }


def _builds_config(tiny_model: Path, sdist: Path, **cycle: object) -> dict:
    from conftest import small_config

    c = small_config(tiny_model)
    c["benchmarks"].update(suites=["harmful", "jailbreak", "overrefusal", "capability"], limit=48)
    c["redteam"].update(techniques=["direct", "template:roleplay_dan"], limit=60)
    c["cycle"].update(verify_builds=["q4_k_m"], llama_cpp=str(sdist), **cycle)
    c["cycle"]["selection"] = {"suites": ["harmful", "jailbreak", "overrefusal", "capability"], "limit": 48}
    return c


def test_the_cycle_verifies_each_rounds_quantized_build(tiny_model, sdist, tmp_path, monkeypatch):
    """cycle.verify_builds: each round exports its checkpoint, serves the q4_k_m build with a real llama.cpp server,
    benchmarks and red-teams it paired with full precision, applies the targets to it, and feeds its findings into
    the next round's curation marked by build. A rerun resumes without a server; `compare` reads the build, and
    `bench --gguf` of the same file agrees with the loop."""
    import yaml

    config, run = tmp_path / "c.yaml", tmp_path / "run"
    config.write_text(yaml.safe_dump(_builds_config(tiny_model, sdist)))
    env = {**os.environ, "BREAKFIX_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "breakfix", "run", "--config", str(config), "--out", str(run)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert log.count("llama.cpp server (pid") == 4  # two per round: its decisions, then the report's held-out suites
    report = json.loads((run / "report.json").read_text())
    suites = {"harmful", "jailbreak", "overrefusal", "capability"}
    for rnd in report["rounds"]:
        b = rnd["builds"]["q4_k_m"]
        gguf = run / b["file"]
        assert gguf.is_file() and b["checkpoint_id"] == f"gguf:sha256:{b['sha256']}" != rnd["checkpoint_id"]
        manifest = json.loads((gguf.parent / "manifest.json").read_text())
        assert manifest["checkpoint_id"] == rnd["checkpoint_id"] and manifest["verify"]["prompts"] == 8
        assert set(b["benchmarks"]) == suites and set(b["paired"]) == suites | {"redteam"}
        assert set(b["validation"]) == suites  # what the targets read, for the build as for the checkpoint
        for s in suites:  # paired on the very items full precision answered (over-refusal: its benign ones)
            n = "vprr_n" if s == "overrefusal" else "n"
            assert b["paired"][s]["n"] == rnd["benchmarks"][s][n] == b["benchmarks"][s][n] > 0
            assert 0 <= b["paired"][s]["p_value"] <= 1
        assert b["redteam"]["attempts"] == rnd["redteam"]["attempts"] and b["redteam"]["errors"] == 0
        assert "corrected" in b["benchmarks"]["harmful"]  # corrected for judge error like full precision
        assert (run / "rounds" / str(rnd["round"]) / "findings@q4_k_m.jsonl").is_file()
    last = report["rounds"][-1]
    assert isinstance(last["builds"]["q4_k_m"]["targets_met"], bool)
    if not last["builds"]["q4_k_m"]["targets_met"]:  # a build that misses a target keeps the run from stopping
        assert last["targets_met"] is False and "q4_k_m: " in log
    rows = [json.loads(line) for line in (run / "rounds" / "0" / "dpo.jsonl").open()]
    marks = {row["meta"]["build"] for row in rows}
    assert marks <= {None, "q4_k_m"} and "q4_k_m" in marks  # what only the build got wrong is trained on, marked
    html = (run / "report.html").read_text()
    assert 'id="builds-table"' in html and "McNemar" in html

    from typer.testing import CliRunner

    from breakfix.cli import app
    from breakfix.jobs.compare import compare

    monkeypatch.setenv("BREAKFIX_CACHE", env["BREAKFIX_CACHE"])
    again = CliRunner().invoke(app, ["run", "--config", str(config), "--out", str(run)])
    assert again.exit_code == 0 and "llama.cpp server" not in again.output  # finished builds: no server again
    assert json.loads((run / "report.json").read_text())["rounds"] == report["rounds"]

    rows_c = {x["name"]: x for x in compare(f"{run}@1", f"{run}@1:q4_k_m")["rows"]}
    assert rows_c["harmful"]["test"] == "McNemar (paired)" and rows_c["redteam"]["test"] == "McNemar (paired)"
    assert rows_c["harmful"]["p"] == last["builds"]["q4_k_m"]["paired"]["harmful"]["p_value"]

    # the same build benchmarked by hand under bench --gguf: the same replies, so the same scores; compare pairs it
    q4 = run / last["builds"]["q4_k_m"]["file"]
    b = CliRunner().invoke(app, ["bench", "-c", str(config), "--gguf", str(q4), "--out", str(tmp_path / "bq")])
    assert b.exit_code == 0, b.output[-3000:]
    bench = json.loads((tmp_path / "bq" / "bench.json").read_text())["model"]["benchmarks"]
    assert {s: bench[s]["n"] for s in suites} == {s: last["builds"]["q4_k_m"]["benchmarks"][s]["n"] for s in suites}
    assert bench["harmful"]["defect_rate"] == last["builds"]["q4_k_m"]["benchmarks"]["harmful"]["defect_rate"]
    rows_b = {x["name"]: x for x in compare(f"{run}@1", str(tmp_path / "bq"))["rows"]}
    assert rows_b["harmful"]["p"] == rows_c["harmful"]["p"] and "redteam" not in rows_b  # bench runs no red team


def test_verify_builds_input_errors_are_one_line(tiny_model, sdist, tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from breakfix.cli import app

    monkeypatch.delenv("BREAKFIX_LLAMA_CPP", raising=False)
    bad = _builds_config(tiny_model, sdist)
    bad["cycle"]["verify_builds"] = ["q9_z"]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(bad))
    r = CliRunner().invoke(app, ["run", "-c", str(tmp_path / "a.yaml"), "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and "cycle.verify_builds" in r.output and "q9_z" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "a").exists()
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(_builds_config(tiny_model, tmp_path / "missing.tar.gz")))
    r = CliRunner().invoke(app, ["run", "-c", str(tmp_path / "b.yaml"), "--out", str(tmp_path / "b")])
    assert r.exit_code == 2 and "cycle.llama_cpp" in r.output and "missing.tar.gz" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "b").exists()


def test_multiple_choice_log_likelihoods_of_a_served_build_match_hf(exported, tiny_model, sdist, tmp_path):
    """The capability suite's multiple choice on a served build equals HF's log-likelihoods (f16 against fp32): by
    default from the same GGUF in-process (the token ids of the source checkpoint's tokenizer, found through the
    manifest); through a plain OpenAI-compatible endpoint from /v1/completions with echo and logprobs, the prompt
    rendered by model.tokenizer's chat template. llama-cpp-python pairs echoed tokens with their logprobs correctly
    only after a leading BOS: a template without one is refused there, not misread."""
    import shutil

    from breakfix import aio
    from breakfix.backends import build_backend
    from breakfix.backends.base import BackendError
    from breakfix.backends.hf import HFBackend
    from breakfix.backends.llamacpp import convert, find_converter, llama_server, served_ref

    convs = [[{"role": "user", "content": q}] for q in ("What is the capital of France?", "How do I pick a lock?")]
    conts = [" Paris", " I cannot help with that.", " Lyon is"]

    def close_to(got: list[list[float]], want: list[list[float]]) -> None:
        for w, g in zip(want, got, strict=True):
            assert g == pytest.approx(w, abs=0.05 + 0.01 * max(abs(x) for x in w))
            assert max(range(3), key=lambda i: g[i]) == max(range(3), key=lambda i: w[i])

    def scores(backend: object) -> list[list[float]]:
        async def run() -> list[list[float]]:
            try:
                return [await backend.aloglikelihood(c, conts) for c in convs]  # type: ignore[attr-defined]
            finally:
                await backend.aclose()  # type: ignore[attr-defined]

        return aio.run(run())

    out, manifest, _ = exported
    f16 = out / manifest["files"][0]["file"]
    ref, _ = served_ref(f16)
    assert ref.kind == "llamacpp" and ref.tokenizer == str(tiny_model)  # the manifest names the source checkpoint
    want = [HFBackend(str(tiny_model), batch_size=4).loglikelihood(c, conts) for c in convs]
    with llama_server(f16) as base:
        close_to(scores(build_backend(ref.model_copy(update={"base_urls": [base]}), 0)), want)
        # a prefill (an open assistant turn) continues through /v1/completions, the template rendered here
        from breakfix.backends.base import GenerationConfig

        served = build_backend(ref.model_copy(update={"base_urls": [base]}), 0)
        prefilled = [*convs[0], {"role": "assistant", "content": "Sure, here is"}]
        assert isinstance(served.generate([prefilled], GenerationConfig(max_new_tokens=6))[0], str)
        endpoint = ref.model_copy(update={"kind": "openai", "base_urls": [base]})
        with pytest.raises(BackendError, match="BOS"):  # the demo's template starts with <|user|>, not BOS
            scores(build_backend(endpoint, 0))
        with pytest.raises(BackendError, match="model.tokenizer"):
            scores(build_backend(endpoint.model_copy(update={"tokenizer": None}), 0))

    bos = tmp_path / "bos-model"  # the same model, its template starting with BOS (as Llama's and SmolLM2's do)
    shutil.copytree(tiny_model, bos)
    template = bos / "chat_template.jinja"
    template.write_text("{{ bos_token }}" + template.read_text())
    gguf = tmp_path / "bos-f16.gguf"
    convert(bos, gguf, "f16", find_converter(str(sdist)))
    want = [HFBackend(str(bos), batch_size=4).loglikelihood(c, conts) for c in convs]
    ref, _ = served_ref(gguf, bos)
    with llama_server(gguf) as base:
        close_to(scores(build_backend(ref.model_copy(update={"kind": "openai", "base_urls": [base]}), 0)), want)
