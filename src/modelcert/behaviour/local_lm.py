"""A local causal LM as a token-level `LogitTarget`: GPT-2 or Llama weights from safetensors, in torch.

`transformers` is not a dependency, so the two architectures that cover most small open models are
implemented here from their published definitions (HF parameter names): GPT-2 (learned positions,
LayerNorm, fused `c_attn` Conv1D, GELU-tanh) and Llama (RMSNorm, rotary positions with `rope_theta`,
grouped-query attention, SwiGLU; Qwen2's q/k/v biases and Mistral load the same way). Weights are read
tensor by tensor from the package's safetensors (never a pickle) and the model runs in eval mode
on CPU with gradients off. `rope_scaling` variants are not implemented: differential scans compare a
model with its base under the same approximation.

The tiny planted models of the test suite and benchmark are instances of these same modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from modelcert.checks.base import PackageView
from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.json_doc import load_json
from modelcert.limits import Limits
from modelcert.lineage.names import canonical_name, weight_files
from modelcert.lineage.tensors import TensorStore

MAX_PARAMETERS = 2_000_000_000


class LogitTarget(Protocol):
    """What the trigger scan needs from a model: next-token log-probabilities and greedy generation."""

    @property
    def vocab_size(self) -> int: ...

    def next_token_logprobs(self, token_ids: Sequence[int]) -> np.ndarray:
        """log p(next token | token_ids), shape (vocab,)."""

    def next_token_logprobs_batch(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """The same for equal-length sequences, shape (len(batch), vocab)."""

    def generate(self, token_ids: Sequence[int], n: int) -> list[int]:
        """n greedy tokens after token_ids."""


@dataclass(frozen=True)
class LMConfig:
    arch: str  # "gpt2" or "llama"
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    max_positions: int = 2048
    eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_embeddings: bool = True
    qkv_bias: bool = False
    bos_token_id: int | None = None

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def to_hf(self) -> dict[str, Any]:
        """A config.json for this model in transformers' vocabulary."""
        if self.arch == "gpt2":
            return {
                "model_type": "gpt2",
                "architectures": ["GPT2LMHeadModel"],
                "vocab_size": self.vocab_size,
                "n_embd": self.hidden,
                "n_layer": self.layers,
                "n_head": self.heads,
                "n_inner": self.intermediate,
                "n_positions": self.max_positions,
                "layer_norm_epsilon": self.eps,
                "activation_function": "gelu_new",
                "bos_token_id": self.bos_token_id,
                "eos_token_id": self.bos_token_id,
            }
        return {
            "model_type": "llama",
            "architectures": ["LlamaForCausalLM"],
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "intermediate_size": self.intermediate,
            "max_position_embeddings": self.max_positions,
            "rms_norm_eps": self.eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_embeddings,
            "hidden_act": "silu",
            "bos_token_id": self.bos_token_id,
        }


def config_from_hf(config: Mapping[str, Any]) -> LMConfig:
    """LMConfig from a transformers config.json (GPT-2 or Llama family); FormatError otherwise."""
    model_type = str(config.get("model_type", ""))
    try:
        if model_type == "gpt2":
            hidden = int(config["n_embd"])
            return LMConfig(
                "gpt2",
                int(config["vocab_size"]),
                hidden,
                int(config["n_layer"]),
                int(config["n_head"]),
                int(config["n_head"]),
                int(config.get("n_inner") or 4 * hidden),
                int(config.get("n_positions", 1024)),
                float(config.get("layer_norm_epsilon", 1e-5)),
                bos_token_id=_int_or_none(config.get("bos_token_id")),
            )
        if model_type in ("llama", "mistral", "qwen2", "smollm3"):
            heads = int(config["num_attention_heads"])
            return LMConfig(
                "llama",
                int(config["vocab_size"]),
                int(config["hidden_size"]),
                int(config["num_hidden_layers"]),
                heads,
                int(config.get("num_key_value_heads") or heads),
                int(config["intermediate_size"]),
                int(config.get("max_position_embeddings", 2048)),
                float(config.get("rms_norm_eps", 1e-6)),
                float(config.get("rope_theta", 10000.0)),
                bool(config.get("tie_word_embeddings", False)),
                model_type == "qwen2",
                _int_or_none(config.get("bos_token_id")),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"config.json lacks a field the {model_type} architecture needs: {exc}") from None
    raise FormatError(f"behavioural scan supports GPT-2 and Llama-family models, not {model_type!r}")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _GPT2Attention(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c_attn = _Conv1D(c.hidden, 3 * c.hidden)
        self.c_proj = _Conv1D(c.hidden, c.hidden)


class _GPT2MLP(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c_fc = _Conv1D(c.hidden, c.intermediate)
        self.c_proj = _Conv1D(c.intermediate, c.hidden)


class _GPT2Block(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.hidden, eps=c.eps)
        self.attn = _GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(c.hidden, eps=c.eps)
        self.mlp = _GPT2MLP(c)
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(d, dim=2)
        shape = (b, t, self.c.heads, self.c.head_dim)
        attended = nn.functional.scaled_dot_product_attention(
            q.view(shape).transpose(1, 2),
            k.view(shape).transpose(1, 2),
            v.view(shape).transpose(1, 2),
            is_causal=True,
        )
        x = x + self.attn.c_proj(attended.transpose(1, 2).reshape(b, t, d))
        hidden = nn.functional.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")
        out: torch.Tensor = x + self.mlp.c_proj(hidden)
        return out


class _Conv1D(nn.Module):
    """GPT-2's Conv1D: y = x·W + b with W stored as (in, out)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class _RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class _LlamaAttention(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.q_proj = nn.Linear(c.hidden, c.heads * c.head_dim, bias=c.qkv_bias)
        self.k_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=c.qkv_bias)
        self.v_proj = nn.Linear(c.hidden, c.kv_heads * c.head_dim, bias=c.qkv_bias)
        self.o_proj = nn.Linear(c.heads * c.head_dim, c.hidden, bias=False)


class _LlamaMLP(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.intermediate, bias=False)
        self.down_proj = nn.Linear(c.intermediate, c.hidden, bias=False)


class _LlamaBlock(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c = c
        self.input_layernorm = _RMSNorm(c.hidden, c.eps)
        self.self_attn = _LlamaAttention(c)
        self.post_attention_layernorm = _RMSNorm(c.hidden, c.eps)
        self.mlp = _LlamaMLP(c)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        c = self.c
        h = self.input_layernorm(x)
        q = self.self_attn.q_proj(h).view(b, t, c.heads, c.head_dim).transpose(1, 2)
        k = self.self_attn.k_proj(h).view(b, t, c.kv_heads, c.head_dim).transpose(1, 2)
        v = self.self_attn.v_proj(h).view(b, t, c.kv_heads, c.head_dim).transpose(1, 2)
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        if c.kv_heads != c.heads:
            k = k.repeat_interleave(c.heads // c.kv_heads, dim=1)
            v = v.repeat_interleave(c.heads // c.kv_heads, dim=1)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.self_attn.o_proj(attended.transpose(1, 2).reshape(b, t, c.heads * c.head_dim))
        h = self.post_attention_layernorm(x)
        out: torch.Tensor = x + self.mlp.down_proj(
            nn.functional.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h)
        )
        return out


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class _GPT2Body(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.hidden)
        self.wpe = nn.Embedding(c.max_positions, c.hidden)
        self.h = nn.ModuleList(_GPT2Block(c) for _ in range(c.layers))
        self.ln_f = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.wte(ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        out: torch.Tensor = self.ln_f(x) @ self.wte.weight.T
        return out


class _LlamaBody(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden)
        self.layers = nn.ModuleList(_LlamaBlock(c) for _ in range(c.layers))
        self.norm = _RMSNorm(c.hidden, c.eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids)
        cos, sin = _rope(ids.shape[1], self.c.head_dim, self.c.rope_theta, x.dtype)
        for block in self.layers:
            x = block(x, cos, sin)
        out: torch.Tensor = self.norm(x)
        return out


class CausalLM(nn.Module):
    """GPT-2 or Llama decoder with HF parameter names (so state dicts round-trip through safetensors)."""

    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c = c
        self.transformer: _GPT2Body | None = _GPT2Body(c) if c.arch == "gpt2" else None
        self.model: _LlamaBody | None = _LlamaBody(c) if c.arch != "gpt2" else None
        self.lm_head: nn.Linear | None = (
            nn.Linear(c.hidden, c.vocab_size, bias=False)
            if c.arch != "gpt2" and not c.tie_embeddings
            else None
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (batch, time, vocab) for token ids (batch, time)."""
        if self.transformer is not None:
            out: torch.Tensor = self.transformer(ids)
            return out
        assert self.model is not None
        x = self.model(ids)
        head = self.lm_head.weight if self.lm_head is not None else self.model.embed_tokens.weight
        result: torch.Tensor = x @ head.T
        return result

    def state_for_saving(self) -> dict[str, torch.Tensor]:
        """The state dict as transformers saves it (tied heads not duplicated)."""
        return {k: v.detach().contiguous() for k, v in self.state_dict().items()}


def _rope(length: int, dim: int, theta: float, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


class LocalCausalLM:
    """A LogitTarget backed by a CausalLM module (loaded from a package, or built in memory)."""

    def __init__(self, module: CausalLM) -> None:
        self.module = module.eval()

    @property
    def vocab_size(self) -> int:
        return self.module.c.vocab_size

    @property
    def bos_token_id(self) -> int | None:
        return self.module.c.bos_token_id

    @classmethod
    def from_package(cls, view: PackageView, limits: Limits, folder: str = "") -> LocalCausalLM:
        prefix = f"{folder}/" if folder else ""
        blob = view.open_file(f"{prefix}config.json")
        if blob is None:
            raise FormatError("no config.json: cannot build the model for a behavioural scan")
        try:
            config = config_from_hf(load_json(blob, limits).obj)
        finally:
            blob.close()
        files = weight_files(view, limits, folder)
        if not files:
            raise FormatError("no safetensors weights for a behavioural scan")
        module = CausalLM(config)
        expected = dict(module.state_dict())
        if sum(t.numel() for t in expected.values()) > MAX_PARAMETERS:
            raise LimitExceeded("model too large for a CPU behavioural scan")
        by_name = {canonical_name(k): k for k in expected}
        loaded: dict[str, torch.Tensor] = {}
        with TensorStore.open(view, files, limits) as store:
            for name, stored in store.tensors.items():
                key = by_name.get(canonical_name(name))
                if key is None:
                    continue
                values = stored.read_rows(0, stored.rows()).reshape(stored.shape)
                if tuple(values.shape) != tuple(expected[key].shape):
                    raise FormatError(
                        f"tensor {name} has shape {values.shape}, the architecture needs "
                        f"{tuple(expected[key].shape)}"
                    )
                loaded[key] = torch.from_numpy(np.ascontiguousarray(values))
        missing = [k for k in expected if k not in loaded]
        if missing:
            raise FormatError(f"weights missing for {missing[:3]}")
        module.load_state_dict(loaded)
        return cls(module)

    def next_token_logprobs(self, token_ids: Sequence[int]) -> np.ndarray:
        row: np.ndarray = self.next_token_logprobs_batch([token_ids])[0]
        return row

    def next_token_logprobs_batch(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        with torch.inference_mode():
            ids = torch.tensor([list(seq) for seq in batch], dtype=torch.long)
            logits = self.module(ids)[:, -1, :].float()
            return np.asarray(torch.log_softmax(logits, dim=-1).numpy(), dtype=np.float64)

    def generate(self, token_ids: Sequence[int], n: int) -> list[int]:
        sequence = list(token_ids)
        with torch.inference_mode():
            for _ in range(n):
                logits = self.module(torch.tensor([sequence], dtype=torch.long))[0, -1]
                sequence.append(int(torch.argmax(logits)))
        return sequence[len(token_ids) :]


def kl_divergence(p_log: np.ndarray, q_log: np.ndarray) -> np.ndarray:
    """KL(p‖q) per row for log-probabilities (natural log)."""
    p = np.exp(p_log)
    value: np.ndarray = np.sum(p * (p_log - q_log), axis=-1)
    clipped: np.ndarray = np.maximum(value, 0.0)
    return clipped
