"""Pieces shared by the SFT and DPO trainers."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from transformers import TrainerCallback

from breakfix.backends.hf import load_pretrained
from breakfix.progress import task_progress
from breakfix.settings import TrainSettings


class ProgressCallback(TrainerCallback):
    """Shows training steps as a rich progress bar and keeps the logged metrics.

    Args:
        description: The bar's label.
        enabled: Set False for no bar.
    """

    def __init__(self, description: str, enabled: bool = True) -> None:
        self.description = description
        self.enabled = enabled
        self.logs: list[dict[str, Any]] = []
        self._stack: ExitStack | None = None
        self._bar: Any = None

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self._stack = ExitStack()
        self._bar = self._stack.enter_context(task_progress(self.description, total=state.max_steps, show=self.enabled))

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self._bar is not None:
            self._bar.update(state.global_step, state.max_steps)
        report = os.environ.get("BREAKFIX_PROGRESS_FILE")
        if report and is_main_process():  # a launched stage tells the launching process how far it is
            tmp = f"{report}.tmp"
            with open(tmp, "w") as f:
                f.write(f"{state.global_step} {state.max_steps}")
            os.replace(tmp, report)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if logs:
            self.logs.append({"step": state.global_step, **logs})

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@contextmanager
def quiet_training_logs() -> Iterator[None]:
    """Silence the trainer's own console chatter (our progress bar replaces it); warnings stay in the log."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    logging.getLogger("trl").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            hf_logging.set_verbosity(old)


@dataclass
class TrainResult:
    """What one training stage did: optimizer steps, training seconds, tokens seen (epochs included), logs."""

    steps: int
    seconds: float
    tokens: int
    logs: list[dict[str, Any]]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def final(self, key: str) -> float | None:
        vals = [x[key] for x in self.logs if key in x]
        return float(vals[-1]) if vals else None


def lora_config(settings: TrainSettings) -> Any:
    """PEFT's ``LoraConfig`` for the settings, or None when LoRA is off."""
    if not settings.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha or 2 * settings.lora_r,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def load_for_training(model_dir: Any, settings: TrainSettings) -> tuple[Any, Any]:
    """The tokenizer and a float32 model of ``model_dir``, embeddings frozen if the settings say so."""
    from pathlib import Path

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights": breakfix shows its own progress
    # A local dir has passed check_model_dir (pickle weights only with model.allow_pickle) where the run began;
    # a hub id is loaded safetensors-only.
    local = Path(str(model_dir)).is_dir()
    tokenizer, model = load_pretrained(
        model_dir, dtype=torch.float32, allow_pickle=local, trust_remote_code=settings.trust_remote_code
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if settings.freeze_embeddings and not settings.lora:  # LoRA already leaves the embeddings frozen
        freeze_embeddings(model)
    return tokenizer, model


def _warmup(ratio: float) -> dict[str, float]:
    """The warmup as a share of the training steps: transformers 5 takes it as a float ``warmup_steps`` below 1
    (``warmup_ratio`` is gone); older releases as ``warmup_ratio``."""
    from transformers import TrainingArguments

    if "warmup_ratio" in TrainingArguments.__dataclass_fields__:
        return {"warmup_ratio": ratio}
    return {"warmup_steps": ratio}


def trainer_args(settings: TrainSettings, out_dir: Any, name: str, seed: int) -> dict[str, Any]:
    """The TRL config arguments that every breakfix trainer passes, from ``settings``."""
    from pathlib import Path

    return {
        "output_dir": str(Path(out_dir).parent / f".trainer-{name}"),
        "num_train_epochs": settings.epochs,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "learning_rate": settings.learning_rate,
        **_warmup(settings.warmup_ratio),
        "max_length": settings.max_length,
        "report_to": settings.report_to,
        "seed": seed,
        "data_seed": seed,
        **trainer_common(settings),
    }


def train_with(
    trainer_cls: Any,
    model: Any,
    tokenizer: Any,
    args: Any,
    data: Any,
    settings: TrainSettings,
    label: str,
    extra: TrainerCallback | None = None,
) -> tuple[Any, ProgressCallback, float]:
    """Build a TRL trainer (``SFTTrainer``, ``DPOTrainer``) with breakfix's progress bar, LoRA config and quiet logs
    (and ``extra``, such as a :class:`SnapshotCallback`), and train it. Returns the trainer, the callback holding
    its logs, and the training seconds."""
    cb = ProgressCallback(label, enabled=is_main_process())
    with quiet_training_logs():
        trainer = trainer_cls(
            model=model,
            args=args,
            train_dataset=data,
            processing_class=tokenizer,
            callbacks=[cb] + ([extra] if extra is not None else []),
            peft_config=lora_config(settings),
        )
    return trainer, cb, fit(trainer)


def fit(trainer: Any) -> float:
    """Train quietly (the progress bar replaces the console printer); returns the training seconds."""
    import time

    drop_console_printer(trainer)
    with quiet_training_logs():
        started = time.perf_counter()
        trainer.train()
        return time.perf_counter() - started


def trainer_common(settings: TrainSettings | None = None) -> dict[str, Any]:
    """TrainingArguments shared by every breakfix trainer: bf16 on a GPU that supports it and activation
    checkpointing (TRL's default, here and on CPU, where turning it off cost the demo 0.3 GB of peak RSS and gained
    no time) unless the settings say otherwise; no intermediate checkpoints (a stage is committed whole)."""
    import torch

    gpu = torch.cuda.is_available()
    bf16 = settings.bf16 if settings and settings.bf16 is not None else bool(gpu and torch.cuda.is_bf16_supported())
    ckpt = settings.gradient_checkpointing if settings and settings.gradient_checkpointing is not None else True
    return {
        "lr_scheduler_type": "cosine",
        "logging_steps": 5,
        "save_strategy": "no",
        "use_cpu": not gpu,
        "bf16": bf16,
        _checkpointing_key(): ckpt,
        "ddp_find_unused_parameters": False,
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }


def is_main_process() -> bool:
    """Whether this is the main process of an ``accelerate launch`` / torchrun job (or a plain process)."""
    import os

    return os.environ.get("RANK", "0") == "0"


def _checkpointing_key() -> str:
    """``activation_checkpointing`` (transformers >= 5), or its older name ``gradient_checkpointing``."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def save_trained(trainer: Any, tokenizer: Any, out_dir: Any) -> None:
    """Save a trainer's model from the main process only (the others wait), as :func:`save_model` does."""
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        save_model(trainer.accelerator.unwrap_model(trainer.model), tokenizer, out_dir)
    trainer.accelerator.wait_for_everyone()


def save_model(model: Any, tokenizer: Any, out_dir: Any) -> None:
    """Save a safetensors HF dir atomically (written beside, then renamed). LoRA adapters are saved under
    ``adapter/`` and then merged into the saved weights, so the dir loads as a plain model."""
    import os
    import shutil
    from pathlib import Path

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Writing model shards"
    out = Path(out_dir)
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if hasattr(model, "merge_and_unload"):
        model.save_pretrained(tmp / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def drop_console_printer(trainer: Any) -> Any:
    """Remove the trainer's log printer: the progress bar replaces it, and metrics go to the store."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def freeze_embeddings(model: Any) -> None:
    """Freeze the input embeddings and the output head (tied or not), so that safety tuning does not push down the
    logits of tokens its data never uses; a guard against forgetting rare-token knowledge."""
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None:
            for p in module.parameters():
                p.requires_grad_(False)


@dataclass
class Snapshots:
    """Where and when a training run saves candidate snapshots (the cycle scores each on the validation split).

    Args:
        root: The folder that receives one folder per snapshot, ``<stage>-<step>``.
        steps: Optimizer steps to save at, per stage (``{"sft": [20, 40], "dpo": [10]}``); a stage's last step is
            always a candidate and is not saved twice.
        taken: Filled in as training goes: one ``{"name", "stage", "step", "path"}`` per candidate, in order.
    """

    root: Any
    steps: dict[str, list[int]]
    taken: list[dict[str, Any]]

    def callback(self, stage: str, tokenizer: Any, base_dir: Any) -> SnapshotCallback | None:
        """The callback that saves this stage's snapshots (None when it has none)."""
        from pathlib import Path

        steps = self.steps.get(stage) or []
        return SnapshotCallback(stage, steps, Path(self.root), tokenizer, base_dir, self.taken) if steps else None


class SnapshotCallback(TrainerCallback):
    """Saves the model at the given optimizer steps: the full weights, or a LoRA model's adapter alone (merged into
    a full model dir later, by :func:`materialize_snapshots`); steps at or past the last one are left to the stage's
    own save."""

    def __init__(self, stage: str, steps: list[int], root: Any, tokenizer: Any, base_dir: Any,
                 taken: list[dict[str, Any]]) -> None:  # fmt: skip
        self.stage, self.steps, self.root = stage, set(steps), root
        self.tokenizer, self.base_dir, self.taken = tokenizer, base_dir, taken

    def on_step_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        step = state.global_step
        if step not in self.steps or step >= state.max_steps or not state.is_world_process_zero or model is None:
            return
        import json
        import shutil

        name = f"{self.stage}-{step}"
        out = self.root / name
        tmp = self.root / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if hasattr(model, "peft_config"):  # an adapter only: the model in training must not be merged
            model.save_pretrained(tmp / "adapter")
            (tmp / "snapshot.json").write_text(json.dumps({"base": str(self.base_dir)}), encoding="utf-8")
        else:
            model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
        self.taken.append({"name": name, "stage": self.stage, "step": step, "path": str(out)})


def materialize_snapshots(taken: list[dict[str, Any]], settings: TrainSettings) -> None:
    """Turn each LoRA snapshot (an adapter and the model it was trained from) into a full model dir, in place."""
    import json
    from pathlib import Path

    for t in taken:
        path = Path(t["path"])
        meta = path / "snapshot.json"
        if not meta.is_file():
            continue
        from peft import PeftModel

        tokenizer, base = load_for_training(json.loads(meta.read_text(encoding="utf-8"))["base"], settings)
        merged = PeftModel.from_pretrained(base, str(path / "adapter"))
        save_model(merged, tokenizer, path)  # keeps the adapter in adapter/ and merges it into the saved weights
