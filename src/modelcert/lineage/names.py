"""Tensor names shared by the lineage comparison and the config checks (no numpy here: the config
checks run on every package, the comparison only with --base)."""

EMBEDDING_NAMES = (
    "embed_tokens.weight",
    "wte.weight",
    "word_embeddings.weight",
    "tok_embeddings.weight",
    "embeddings.weight",
    "token_embd.weight",
)
HEAD_NAMES = ("lm_head.weight", "output.weight", "embed_out.weight")
