"""Run a training stage in this process, or across processes, GPUs and nodes through ``accelerate launch``.

breakfix builds no distributed code of its own. A distributed stage is written to a job file, and
``accelerate launch ... -m breakfix.training.launch JOB`` runs the same TRL trainer in every process; accelerate
(DDP, FSDP, DeepSpeed ZeRO-3, multi-node) and TRL do the rest, and the main process saves the model and the result.

A CPU job with several processes runs DDP over gloo. accelerate's own launcher for ``MULTI_CPU`` needs ``mpirun``,
so breakfix launches such a config through torchrun (``--multi_gpu``), which works on CPUs as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

from breakfix.aio import free_port
from breakfix.progress import task_progress
from breakfix.settings import LaunchSettings, TrainSettings, read_accelerate_config
from breakfix.training.common import Snapshots, TrainResult, is_main_process
from breakfix.types import Row

__all__ = ["LaunchSettings", "accelerate_command", "process_count", "read_accelerate_config", "train_stage"]

Stage = Literal["sft", "dpo"]


def _trainer(stage: Stage) -> tuple[Any, type[TrainSettings]]:
    if stage == "sft":
        from breakfix.training.sft import SFTSettings, train_sft  # each trainer imports TRL's

        return train_sft, SFTSettings
    from breakfix.training.dpo import DPOSettings, train_dpo

    return train_dpo, DPOSettings


def train_stage(
    stage: Stage,
    model_dir: str | Path,
    rows: list[Row],
    out_dir: str | Path,
    settings: TrainSettings,
    *,
    seed: int = 0,
    label: str | None = None,
    launch: LaunchSettings | None = None,
    snapshots: Snapshots | None = None,
) -> TrainResult:
    """Train one stage (``sft`` on SFT rows, ``dpo`` on pairs) from ``model_dir`` into ``out_dir``.

    With ``launch`` distributed, the stage runs under ``accelerate launch`` (and takes no intermediate
    ``snapshots``: under FSDP or ZeRO-3 no process holds the whole model between steps); otherwise in this process.
    """
    fn, _ = _trainer(stage)
    label = label or stage.upper()
    if launch is None or not launch.distributed:
        return fn(model_dir, rows, out_dir, settings, seed=seed, progress_label=label, snapshots=snapshots)
    return _launched(stage, model_dir, rows, out_dir, settings, seed, label, launch)


def accelerate_command(launch: LaunchSettings, job: Path) -> list[str]:
    """The ``accelerate launch`` command line that runs ``job`` under ``launch``."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    conf = read_accelerate_config(launch.accelerate_config) if launch.accelerate_config else {}
    if launch.accelerate_config:
        cmd += ["--config_file", launch.accelerate_config]
    n = launch.num_processes or int(conf.get("num_processes", 1))
    kind = str(conf.get("distributed_type", "")).upper()
    if not conf or (kind in ("MULTI_CPU", "NO", "") and n > 1 and not conf.get("mpirun_config")):
        cmd += ["--multi_gpu"]  # torchrun: DDP over NCCL on GPUs, over gloo on CPUs
    if not conf:
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if launch.num_processes:
        cmd += ["--num_processes", str(launch.num_processes)]
    port = launch.main_process_port or (None if conf.get("num_machines", 1) > 1 else free_port())
    if port:
        cmd += ["--main_process_port", str(port)]
    return cmd + ["-m", "breakfix.training.launch", str(job)]


def process_count(launch: LaunchSettings) -> int:
    """How many processes ``launch`` starts on this machine's command line: its own count, else the config's."""
    if launch.num_processes:
        return launch.num_processes
    return int(read_accelerate_config(launch.accelerate_config)["num_processes"]) if launch.accelerate_config else 1


def _launched(
    stage: Stage,
    model_dir: str | Path,
    rows: list[Row],
    out_dir: str | Path,
    settings: TrainSettings,
    seed: int,
    label: str,
    launch: LaunchSettings,
) -> TrainResult:
    out = Path(out_dir)
    job_dir = out.parent / f".{out.name}.{stage}-job"
    shutil.rmtree(job_dir, ignore_errors=True)
    job_dir.mkdir(parents=True)
    with open(job_dir / "data.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    job = {
        "stage": stage,
        "model_dir": str(model_dir),
        "data": str(job_dir / "data.jsonl"),
        "out_dir": str(out),
        "settings": settings.model_dump(mode="json"),
        "seed": seed,
        "label": label,
        "result": str(job_dir / "result.json"),
        "error": str(job_dir / "error.txt"),
    }
    (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")
    cmd = accelerate_command(launch, job_dir / "job.json")
    env = os.environ.copy()
    n = process_count(launch)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    env["PYTHONWARNINGS"] = env.get("PYTHONWARNINGS", "ignore")
    env["BREAKFIX_PROGRESS_FILE"] = str(job_dir / "progress")
    log = job_dir / "launch.log"
    with open(log, "w", encoding="utf-8") as log_f, task_progress(f"{label} ({n} processes)", None) as bar:
        proc = subprocess.Popen(cmd, env=env, stdout=log_f, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            time.sleep(0.5)
            try:
                step, total = (int(x) for x in (job_dir / "progress").read_text().split())
                bar.update(step, total)
            except (OSError, ValueError):
                pass
    result = job_dir / "result.json"
    if proc.returncode != 0 or not result.is_file():
        err = job_dir / "error.txt"
        if err.is_file():  # the worker's own one-line account: rank, exception type, message
            detail = err.read_text(encoding="utf-8", errors="replace").splitlines()[0][:800]
        else:
            detail = " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:])[-800:]
        raise RuntimeError(f"accelerate launch of the {stage} stage failed (exit {proc.returncode}): {detail} "
                           f"(full log: {log})")  # fmt: skip
    data = json.loads(result.read_text(encoding="utf-8"))
    shutil.rmtree(job_dir, ignore_errors=True)
    return TrainResult(**data)


def _worker(job_path: str) -> None:
    """Run one job file's stage in this process (every process of the launch runs this)."""
    from dataclasses import asdict

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    try:
        fn, settings_cls = _trainer(job["stage"])
        with open(job["data"], encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        res = fn(
            job["model_dir"],
            rows,
            job["out_dir"],
            settings_cls.model_validate(job["settings"]),
            seed=job["seed"],
            progress_label=job["label"],
        )
    except BaseException as e:
        import traceback

        msg = " ".join(str(e).split())
        Path(job["error"]).write_text(
            f"rank {os.environ.get('RANK', '0')}: {type(e).__name__}: {msg}\n{traceback.format_exc()}", encoding="utf-8"
        )
        raise
    if is_main_process():
        tmp = Path(job["result"] + ".tmp")
        tmp.write_text(json.dumps(asdict(res)), encoding="utf-8")
        os.replace(tmp, job["result"])


if __name__ == "__main__":
    _worker(sys.argv[1])
