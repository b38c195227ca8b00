"""A byte-level BPE tokenizer for the demo world, trained locally, with a Phi-3 style chat template."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from breakfix.types import Conversation

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

# Phi-3's layout. The {% generation %} markers let TRL's assistant_only_loss train on assistant turns only.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] }}{{ '<|end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def train_tokenizer(conversations: Iterable[Conversation], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on the text of ``conversations`` and wrap it as a HF fast tokenizer.

    Args:
        conversations: Chats whose contents make up the training text.
        vocab_size: Target vocabulary size, special tokens included.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = (m["content"] for conv in conversations for m in conv)
    tok.train_from_iterator(texts, trainer=trainer)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|end|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
        padding_side="left",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
    )
    hf.chat_template = CHAT_TEMPLATE
    hf.model_max_length = 512
    return hf
