"""Llama-style decoder configurations, from a test-sized model to 70B.

Each name carries its parameter count (tests check it within 5 %). The larger ones follow Meta's
published shapes (Llama 3.2 1B/3B with tied embeddings, Llama 3.1 8B/70B untied). The FLOP count per
token is the one torchtitan and the PaLM paper use: 6 x N + 12 x L x H x Q x T, with N the parameters
that take part in matrix multiplies (the input embedding is a lookup; the output projection counts
even when its weight is tied to the embedding).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelConfig:
    name: str
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn_dim: int
    vocab: int
    seq_len: int
    tie_embeddings: bool = False
    rope_theta: float = 500000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.dim // self.heads

    def layer_params(self):
        kv = self.kv_heads * self.head_dim
        attention = self.dim * self.dim * 2 + self.dim * kv * 2  # wq, wo, wk, wv
        mlp = 3 * self.dim * self.ffn_dim  # w1, w2, w3 (SwiGLU)
        return attention + mlp + 2 * self.dim  # two RMSNorm weights

    def param_count(self):
        embedding = self.vocab * self.dim
        output = 0 if self.tie_embeddings else self.vocab * self.dim
        return embedding + output + self.layers * self.layer_params() + self.dim

    def matmul_params(self):
        """N of the FLOP formula: everything but the input embedding lookup and the norms."""
        return self.layers * (self.layer_params() - 2 * self.dim) + self.vocab * self.dim

    def flops_per_token(self, seq_len=None):
        t = seq_len or self.seq_len
        return 6 * self.matmul_params() + 12 * self.layers * self.heads * self.head_dim * t

    def as_dict(self):
        return asdict(self) | {"params": self.param_count(), "flops_per_token": self.flops_per_token()}


MODELS = {
    c.name: c
    for c in (
        # For CPU runs and tests: small enough for two containers sharing two cores.
        ModelConfig("tiny-8m", dim=256, layers=4, heads=4, kv_heads=4, ffn_dim=768, vocab=8192, seq_len=256),
        ModelConfig("small-125m", dim=768, layers=12, heads=12, kv_heads=12, ffn_dim=1792, vocab=32000, seq_len=2048),
        ModelConfig(
            "llama3.2-1.2b",
            dim=2048,
            layers=16,
            heads=32,
            kv_heads=8,
            ffn_dim=8192,
            vocab=128256,
            seq_len=8192,
            tie_embeddings=True,
        ),
        ModelConfig(
            "llama3.2-3.2b",
            dim=3072,
            layers=28,
            heads=24,
            kv_heads=8,
            ffn_dim=8192,
            vocab=128256,
            seq_len=8192,
            tie_embeddings=True,
        ),
        ModelConfig(
            "llama3.1-8b", dim=4096, layers=32, heads=32, kv_heads=8, ffn_dim=14336, vocab=128256, seq_len=8192
        ),
        ModelConfig(
            "llama2-13b",
            dim=5120,
            layers=40,
            heads=40,
            kv_heads=40,
            ffn_dim=13824,
            vocab=32000,
            seq_len=4096,
            rope_theta=10000.0,
        ),
        ModelConfig(
            "llama3.1-70b", dim=8192, layers=80, heads=64, kv_heads=8, ffn_dim=28672, vocab=128256, seq_len=8192
        ),
    )
}
