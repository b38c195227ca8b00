"""The tiny unaligned demo chat model: Phi-3 architecture, trained from scratch with TRL's SFTTrainer, cached by a
content hash of its recipe."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from breakfix.demo.world import DemoWorld
from breakfix.types import content_key


@dataclass(frozen=True)
class DemoModelRecipe:
    """Everything that determines the demo base model. Its hash names the cache entry.

    Args:
        seed: Seed of the corpus and of training.
        vocab_size: BPE vocabulary size.
        hidden_size: Model width.
        layers: Number of decoder layers.
        heads: Number of attention heads.
        intermediate_size: MLP width.
        epochs: SFT epochs over the base corpus.
        learning_rate: Peak learning rate.
        batch_size: Per-device batch size.
        max_length: Longest tokenized chat kept.
    """

    seed: int = 0
    vocab_size: int = 1024
    hidden_size: int = 192
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 512
    epochs: float = 5.0
    learning_rate: float = 3e-3
    batch_size: int = 32
    max_length: int = 160

    def key(self) -> str:
        """Hash of the recipe's settings, the corpus it trains on and the model code's version."""
        corpus = DemoWorld(self.seed).base_corpus()
        return content_key("demo-model/2", asdict(self), corpus)  # 2: float32 training on a CPU


def default_cache_dir() -> Path:
    """``$BREAKFIX_CACHE`` or ``~/.cache/breakfix``."""
    return Path(os.environ.get("BREAKFIX_CACHE", Path.home() / ".cache" / "breakfix"))


# over 80 lines: one linear recipe (config, tokenizer, corpus, trainer, save, cache), read best in order; the demo's
# figures depend on every step of it, so it is kept as written
def build_demo_model(
    recipe: DemoModelRecipe | None = None, cache_dir: Path | None = None, progress: bool = True
) -> Path:
    """Return the path of the demo base model, training it first if the cache has no entry for ``recipe``.

    The model is a ``Phi3ForCausalLM`` built from a config, trained from scratch on the demo world's base corpus
    with TRL's ``SFTTrainer`` (assistant-only loss), and saved with ``save_pretrained`` (safetensors).

    Args:
        recipe: The recipe; defaults to ``DemoModelRecipe()``.
        cache_dir: Where models are cached; defaults to ``default_cache_dir()``.
        progress: Show a progress bar while training.
    """
    recipe = recipe or DemoModelRecipe()
    root = Path(cache_dir or default_cache_dir()) / "demo-models"
    key = recipe.key()
    final = root / key
    if (final / "breakfix_recipe.json").exists():
        return final

    # heavy (torch, transformers, TRL, tokenizers): only when the demo model must be trained
    import torch
    from datasets import Dataset
    from transformers import Phi3Config, Phi3ForCausalLM
    from trl import SFTConfig, SFTTrainer

    from breakfix.demo.tokenizer import train_tokenizer
    from breakfix.settings import TrainSettings
    from breakfix.training.common import (
        ProgressCallback,
        drop_console_printer,
        quiet_training_logs,
        trainer_common,
    )

    started = time.time()
    world = DemoWorld(recipe.seed)
    corpus = world.base_corpus()
    tokenizer = train_tokenizer(corpus, vocab_size=recipe.vocab_size)
    torch.manual_seed(recipe.seed)
    config = Phi3Config(
        vocab_size=len(tokenizer),
        hidden_size=recipe.hidden_size,
        intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads,
        num_key_value_heads=recipe.heads,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        attention_dropout=0.0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
    )
    model = Phi3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    tmp = root / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    args = SFTConfig(
        output_dir=str(tmp / "trainer"),
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        warmup_steps=20,
        weight_decay=0.0,
        max_length=recipe.max_length,
        assistant_only_loss=True,
        report_to=[],
        seed=recipe.seed,
        data_seed=recipe.seed,
        # float32 on a CPU, as every breakfix trainer: TRL's default (bf16) autocasts a CPU to bfloat16, whose
        # kernels and rounding differ by CPU (native AVX-512-BF16 or emulated), and are slow where emulated. No
        # activation checkpointing: it recomputes the same values (the model is the same) and a 2M model needs no
        # memory saved
        **{**trainer_common(TrainSettings(gradient_checkpointing=False)), "logging_steps": 25},
    )
    with quiet_training_logs():
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list([{"messages": c} for c in corpus]),
            processing_class=tokenizer,
            callbacks=[ProgressCallback("training demo base model", enabled=progress)],
        )
        drop_console_printer(trainer)
        result = trainer.train()
    model = trainer.model
    model.save_pretrained(tmp / "model", safe_serialization=True)
    tokenizer.save_pretrained(tmp / "model")
    meta = {
        "recipe": asdict(recipe),
        "key": key,
        "parameters": sum(p.numel() for p in model.parameters()),
        "corpus_size": len(corpus),
        "train_loss": result.training_loss,
        "seconds": round(time.time() - started, 2),
    }
    (tmp / "model" / "breakfix_recipe.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp / "model", final)  # atomic: a cache entry is complete or absent
    shutil.rmtree(tmp, ignore_errors=True)
    return final
