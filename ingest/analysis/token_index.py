"""The reverse token index: for every token, the features of one SAE that most promote it and most
suppress it (the reverse of each feature's top and bottom token lists).

"Which features promote token t?" over every SAE of a model would otherwise be a pass over every
stored decoder vector (``decoder . W_U[:, t]`` for millions of features). The analysis already holds
each chunk's logits ``[chunk, V]`` in memory, so keeping a running top-k per token costs one
``topk`` over the chunk's feature axis and a merge with the ``[k, V]`` kept so far: memory is
``O(k V)``, never ``O(d_sae V)``.

    index = TokenFeatureIndex(d_vocab, k)
    for first_feature, logits in chunks:          # logits [chunk, V]
        index.fold(first_feature, logits)
    index.top_features, index.top_values          # [k, V]: rank 0 is the most promoting feature
    index.bottom_features, index.bottom_values    # [k, V]: rank 0 is the most suppressing feature

Ties between equal logit weights are broken by the lower feature index, as ``ORDER BY value DESC,
feature`` would (except for an exact tie at a chunk's own k-th value, where ``torch.topk`` may keep
either feature), so the index matches a brute-force sort.
"""

from __future__ import annotations

import numpy as np
import torch


class TokenFeatureIndex:
    """Running top-k features per token, for both directions, folded chunk by chunk."""

    def __init__(self, d_vocab: int, k: int) -> None:
        if k <= 0:
            raise ValueError(f"a token index keeps k > 0 features per token, got k = {k}")
        self.k = k
        self.d_vocab = d_vocab
        # [k, V]; -1 marks "no feature yet" (fewer than k features folded so far)
        self.top_values = np.full((k, d_vocab), -np.inf, dtype=np.float32)
        self.top_features = np.full((k, d_vocab), -1, dtype=np.int64)
        self.bottom_values = np.full((k, d_vocab), np.inf, dtype=np.float32)
        self.bottom_features = np.full((k, d_vocab), -1, dtype=np.int64)

    def fold(self, first_feature: int, logits: torch.Tensor) -> None:
        """Merge one chunk: ``logits [chunk, V]`` are features ``first_feature ...`` in order."""
        if logits.ndim != 2 or logits.shape[1] != self.d_vocab:
            raise ValueError(f"logits must be [chunk, {self.d_vocab}], got {list(logits.shape)}")
        chunk = logits.detach().float()
        self.top_values, self.top_features = self._merge(
            chunk, first_feature, self.top_values, self.top_features, largest=True
        )
        self.bottom_values, self.bottom_features = self._merge(
            chunk, first_feature, self.bottom_values, self.bottom_features, largest=False
        )

    def _merge(
        self, chunk: torch.Tensor, first_feature: int, kept_values: np.ndarray, kept_features: np.ndarray, largest: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        n = min(self.k, chunk.shape[0])
        # The chunk's own top n per token on the device, then a small exact merge on the CPU.
        values, rows = torch.topk(chunk, n, dim=0, largest=largest, sorted=False)
        values_np = values.cpu().numpy().astype(np.float32)
        features_np = rows.cpu().numpy().astype(np.int64) + first_feature
        all_values = np.concatenate([kept_values, values_np], axis=0)  # [k + n, V]
        all_features = np.concatenate([kept_features, features_np], axis=0)
        # Sort each token's candidates by (value, feature): descending value for 'top', ascending for
        # 'bottom', the lower feature first on ties; empty slots (feature -1) sort last.
        signed = -all_values if largest else all_values
        empty = all_features < 0
        order = np.lexsort((all_features, signed, empty), axis=0)[: self.k]
        return np.take_along_axis(all_values, order, axis=0), np.take_along_axis(all_features, order, axis=0)

    def merge(self, other: TokenFeatureIndex) -> None:
        """Fold in another index of the same SAE (e.g. of another feature range): the result is the
        one a single pass over both ranges' chunks gives, because each token keeps the k best by
        (value, feature), a total order, whatever the order candidates arrive in."""
        if (other.k, other.d_vocab) != (self.k, self.d_vocab):
            raise ValueError(f"cannot merge a k={other.k}, V={other.d_vocab} index into k={self.k}, V={self.d_vocab}")
        for largest, name in ((True, "top"), (False, "bottom")):
            values = np.concatenate([getattr(self, f"{name}_values"), getattr(other, f"{name}_values")], axis=0)
            features = np.concatenate([getattr(self, f"{name}_features"), getattr(other, f"{name}_features")], axis=0)
            order = np.lexsort((features, -values if largest else values, features < 0), axis=0)[: self.k]
            setattr(self, f"{name}_values", np.take_along_axis(values, order, axis=0))
            setattr(self, f"{name}_features", np.take_along_axis(features, order, axis=0))

    def kept(self) -> int:
        """How many ranks hold a feature (k once at least k features were folded)."""
        return int((self.top_features[:, 0] >= 0).sum()) if self.d_vocab else 0
