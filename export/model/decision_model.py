"""The decision model: a pre-norm Transformer decoder predicting B tokens from A tokens.

Like the paper's, the decoder attends causally to B's history and, through cross-attention, to the
A sequence (token embeddings, no encoder stack). Unlike it, positions are learned *relative* biases
over bounded spans of context, so the same weights run any track length and a step costs O(1):

- self-attention at segment t sees B inputs t-context+1 .. t;
- cross-attention at t sees A segments t-context+1 .. t+lookahead (``lookahead`` = the streaming
  latency in segments; 0 is causal; ``context - 1`` is the offline setting, as far ahead as behind;
  -1 anticipates: the model reads A one segment late (``plugin_core.decision.session.guide_as_heard``), so
  B's token for segment t is chosen from A up to t-1 and can sound exactly when A's segment t starts);
- the A token aligned with t is also added to the decoder input, since B answers A at that moment;
- the logits start from ``prior``: log p(B | A at t) counted on the training songs (the context-free
  table), so the network learns what context adds to it; a model that learns nothing is the table,
  not worse than it.

``forward`` runs a whole sequence (training); ``step`` runs one segment with explicit key/value caches
(generation, and the ONNX step graph). Both use the same ``_attend`` and bias tables.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from plugin_core.decision.config import DecisionConfig
from plugin_core.errors import CountertrackError


class DecoderLayer(nn.Module):
    def __init__(self, config: DecisionConfig):
        super().__init__()
        d = config.d_model
        self.heads, self.head_dim = config.heads, d // config.heads
        self.norm_self, self.norm_cross, self.norm_ffn = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_qkv = nn.Linear(d, 3 * d)
        self.self_out = nn.Linear(d, d)
        self.cross_q = nn.Linear(d, d)
        self.cross_kv = nn.Linear(d, 2 * d)
        self.cross_out = nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(config.ffn, d))
        self.dropout = nn.Dropout(config.dropout)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, d) -> (batch, heads, time, head_dim)."""
        return x.reshape(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], self.heads * self.head_dim)

    def cross_keys(self, a_embedded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of A positions: they depend on each position alone, so they cache."""
        k, v = self.cross_kv(a_embedded).chunk(2, dim=-1)
        return self.split(k), self.split(v)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Scaled dot-product attention with an additive bias (heads, queries, keys); -inf masks."""
    scores = q @ k.transpose(-1, -2) * (q.shape[-1] ** -0.5) + bias
    return torch.softmax(scores, dim=-1) @ v


class DecisionModel(nn.Module):
    prior: torch.Tensor  # a buffer: log p(B | A) added to the logits

    def __init__(self, config: DecisionConfig, token_init: np.ndarray | None = None, prior: np.ndarray | None = None):
        super().__init__()
        self.config = config
        d = config.d_model
        table = np.zeros((config.table_size, config.vocab_size), dtype=np.float32) if prior is None else np.asarray(prior, np.float32)
        if table.shape != (config.table_size, config.vocab_size) or not np.isfinite(table).all():
            raise CountertrackError(f"prior must be finite and shaped ({config.table_size}, {config.vocab_size}), not {table.shape}")
        self.register_buffer("prior", torch.from_numpy(table.copy()))
        self.a_embedding = nn.Embedding(config.table_size, d)
        self.b_embedding = nn.Embedding(config.table_size, d)
        if token_init is not None:
            self._init_from_centroids(token_init)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        # learned relative-position biases per layer and head
        self.self_bias = nn.Parameter(torch.zeros(config.layers, config.heads, config.context))  # distance 0..context-1
        self.cross_bias = nn.Parameter(torch.zeros(config.layers, config.heads, config.context + config.ahead))  # -(context-1)..lookahead
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def _init_from_centroids(self, centroids: np.ndarray) -> None:
        """Start token embeddings from the codebook centroids (the paper's token vectors), projected
        to d_model by a fixed random orthogonal map and scaled like the default init."""
        generator = torch.Generator().manual_seed(0)
        c = torch.from_numpy(np.asarray(centroids, dtype=np.float32))
        projection = torch.linalg.qr(torch.randn(max(c.shape[1], self.config.d_model), self.config.d_model, generator=generator))[0][
            : c.shape[1]
        ]
        vectors = c @ projection
        vectors = vectors / (vectors.std() + 1e-6)
        with torch.no_grad():
            for table in (self.a_embedding, self.b_embedding):
                table.weight[: self.config.vocab_size] = vectors

    def read_history_as_mask(self) -> None:
        """Make every B-history token (BOS included, PAD not) read as MASK: for a model trained with
        all of B's history hidden, so that generation, which feeds back what was played, gives it
        the input it was trained on (those rows were never trained)."""
        with torch.no_grad():
            rows = torch.arange(self.config.table_size) != self.config.pad
            self.b_embedding.weight[rows] = self.b_embedding.weight[self.config.mask].clone()

    def decoder_layers(self) -> list[DecoderLayer]:
        """The layers, typed (iterating an nn.ModuleList gives plain Modules)."""
        return [layer for layer in self.layers if isinstance(layer, DecoderLayer)]

    # ---- whole sequences (training, evaluation) -------------------------------------------------
    def forward(self, a_tokens: torch.Tensor, b_inputs: torch.Tensor) -> torch.Tensor:
        """Logits (batch, T, vocab) for B at each position.

        ``a_tokens`` (batch, T + lookahead): A at positions 0..T-1+lookahead (PAD past the end);
        ``b_inputs`` (batch, T): the B token before each position (BOS at a track's start).
        """
        config = self.config
        steps = b_inputs.shape[1]
        a = self.dropout(self.a_embedding(a_tokens))
        x = self.dropout(self.b_embedding(b_inputs) + a[:, :steps])
        query = torch.arange(steps, device=x.device)
        self_distance = query.unsqueeze(1) - query.unsqueeze(0)  # i - j
        self_ok = (self_distance >= 0) & (self_distance < config.context)
        key = torch.arange(a_tokens.shape[1], device=x.device)
        cross_offset = key.unsqueeze(0) - query.unsqueeze(1)  # j - i
        cross_ok = (cross_offset <= config.ahead) & (cross_offset > -config.context)
        self_index = self_distance.clamp(0, config.context - 1)
        cross_index = (cross_offset + config.context - 1).clamp(0, config.context + config.ahead - 1)
        negative = torch.tensor(float("-inf"), device=x.device)
        for index, layer in enumerate(self.decoder_layers()):
            self_bias = torch.where(self_ok, self.self_bias[index][:, self_index], negative)
            cross_bias = torch.where(cross_ok, self.cross_bias[index][:, cross_index], negative)
            h = layer.norm_self(x)
            q, k, v = (layer.split(t) for t in layer.self_qkv(h).chunk(3, dim=-1))
            x = x + layer.dropout(layer.self_out(layer.merge(_attend(q, k, v, self_bias))))
            h = layer.norm_cross(x)
            ck, cv = layer.cross_keys(a)
            x = x + layer.dropout(layer.cross_out(layer.merge(_attend(layer.split(layer.cross_q(h)), ck, cv, cross_bias))))
            x = x + layer.dropout(layer.ffn(layer.norm_ffn(x)))
        return self.head(self.norm(x)) + self.prior[a_tokens[:, :steps]]

    # ---- one segment with caches (generation, ONNX) -------------------------------------------
    def step(
        self,
        a_new: torch.Tensor,
        a_aligned: torch.Tensor,
        b_previous: torch.Tensor,
        self_k: torch.Tensor,
        self_v: torch.Tensor,
        cross_k: torch.Tensor,
        cross_v: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """Logits (vocab,) for segment t, and the caches grown by this step.

        ``a_new`` (n,): A tokens entering the lookahead (t+lookahead; all of 0..lookahead at
        t = 0); ``a_aligned`` (1,): A at t; ``b_previous`` (1,): B at t-1 or BOS. Caches are
        (layers, heads, length, head_dim); the self cache holds B positions before t, the cross
        cache A positions up to t+lookahead-n. Callers keep the last context-1 self entries and
        the last context+lookahead-1 cross entries between steps.
        """
        config = self.config
        a_embedded = self.a_embedding(a_new).unsqueeze(0)  # (1, n, d)
        x = (self.b_embedding(b_previous) + self.a_embedding(a_aligned)).unsqueeze(0)  # (1, 1, d)
        new_self_k, new_self_v, new_cross_k, new_cross_v = [], [], [], []
        for index, layer in enumerate(self.decoder_layers()):
            h = layer.norm_self(x)
            q, k, v = (layer.split(t) for t in layer.self_qkv(h).chunk(3, dim=-1))
            keys = torch.cat([self_k[index : index + 1], k], dim=2)
            values = torch.cat([self_v[index : index + 1], v], dim=2)
            length = keys.shape[2]
            distance = (length - 1) - torch.arange(length)  # newest key is this step: distance 0
            bias = self.self_bias[index][:, distance.clamp(0, config.context - 1)].unsqueeze(1)
            x = x + layer.self_out(layer.merge(_attend(q, keys, values, bias)))
            ck, cv = layer.cross_keys(a_embedded)
            cross_keys = torch.cat([cross_k[index : index + 1], ck], dim=2)
            cross_values = torch.cat([cross_v[index : index + 1], cv], dim=2)
            count = cross_keys.shape[2]
            offset = torch.arange(count) - (count - 1) + config.ahead  # newest A is t + lookahead
            cross = self.cross_bias[index][:, (offset + config.context - 1).clamp(0, config.context + config.ahead - 1)].unsqueeze(1)
            h = layer.norm_cross(x)
            x = x + layer.cross_out(layer.merge(_attend(layer.split(layer.cross_q(h)), cross_keys, cross_values, cross)))
            x = x + layer.ffn(layer.norm_ffn(x))
            new_self_k.append(keys)
            new_self_v.append(values)
            new_cross_k.append(cross_keys)
            new_cross_v.append(cross_values)
        logits = self.head(self.norm(x))[0, 0] + self.prior[a_aligned[0]]
        return (logits, torch.cat(new_self_k), torch.cat(new_self_v), torch.cat(new_cross_k), torch.cat(new_cross_v))


def table_prior(guide: list[np.ndarray], response: list[np.ndarray], config: DecisionConfig, smoothing: float = 1.0) -> np.ndarray:
    """log p(B | A) (table_size, vocab) counted over aligned token sequences, each row smoothed toward
    B's unigram with the weight of ``smoothing`` segments (a rarely seen A token leans on it); the
    rows of the special tokens (PAD past a track's end) are the unigram."""
    vocab = config.vocab_size
    counts = np.zeros((vocab, vocab))
    for a, b in zip(guide, response):
        np.add.at(counts, (np.asarray(a), np.asarray(b)), 1.0)
    unigram = (counts.sum(axis=0) + smoothing) / (counts.sum() + smoothing * vocab)
    seen = counts.sum(axis=1, keepdims=True)
    conditional = (counts + smoothing * unigram) / (seen + smoothing)
    table = np.empty((config.table_size, vocab))
    table[:vocab] = np.log(conditional)
    table[vocab:] = np.log(unigram)
    return table.astype(np.float32)
