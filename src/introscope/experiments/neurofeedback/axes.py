"""The axes a sentence is labelled along (numpy, torch-free), and the median split.

Each sentence of the bank has, per declared layer, the mean of its residual-stream
activations over its tokens, plus two layer-free values: the next-token entropy after it
and its length in tokens. An axis turns these into one score per sentence:

* ``lr``: the direction of a logistic regression (standardized activations, scikit-learn)
  that predicts the sentence's indoor/outdoor tag, fitted on the example pool only;
* ``pc<k>``: the k-th principal component of the example pool's activations;
* ``random``: a Gaussian direction drawn from the seed and the layer;
* ``norm``: the norm of the mean activation; ``entropy``; ``length`` (the surface axis).

Label A = the upper half of the bank by score (ties broken by bank order), B = the lower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from introscope.store import stable_hash


@dataclass(frozen=True)
class Features:
    """Per sentence: mean activations ``[n, n_layers, d]`` at the declared layers (in order),
    next-token entropy ``[n]`` and length in tokens ``[n]``."""

    acts: np.ndarray
    entropy: np.ndarray
    length: np.ndarray


@dataclass(frozen=True)
class Axis:
    name: str
    layer_index: int | None  # position among the declared layers; None for layer-free axes
    direction: np.ndarray | None  # for direction axes; applied to the raw mean activation
    center: np.ndarray | None
    median: float
    scale: float  # the standard deviation of the bank's scores (for standardized effects)
    var_explained: float  # the share of activation variance along the direction (NaN if none)

    def score(self, f: Features) -> np.ndarray:
        if self.name == "entropy":
            return f.entropy.astype(float)
        if self.name == "length":
            return f.length.astype(float)
        assert self.layer_index is not None
        x = f.acts[:, self.layer_index].astype(float)
        if self.name == "norm":
            return np.linalg.norm(x, axis=1)
        assert self.direction is not None and self.center is not None
        return (x - self.center) @ self.direction

    def labels(self, f: Features) -> list[str]:
        """The bank's labels: A for the upper half by rank (ties, as in sentence length,
        broken by bank order, so A and B are equally common); a new text is A when its score
        is above the median."""
        order = np.argsort(self.score(f), kind="stable")
        out = ["B"] * len(order)
        for i in order[len(order) // 2 :]:
            out[int(i)] = "A"
        return out


def direction_for(
    name: str, x_pool: np.ndarray, y_pool: np.ndarray, seed: int, layer: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(unit direction, centre) of a direction axis, fitted on the example pool."""
    center = x_pool.mean(axis=0)
    if name == "lr":
        sd = x_pool.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        model = LogisticRegression(max_iter=2000, C=0.1).fit((x_pool - center) / sd, y_pool)
        w = model.coef_[0] / sd
    elif name.startswith("pc"):
        k = int(name[2:])
        pca = PCA(n_components=min(k, *x_pool.shape), random_state=seed).fit(x_pool)
        if pca.n_components_ < k:
            return None, None
        w = pca.components_[k - 1]
    elif name == "random":
        rng = np.random.default_rng(int(stable_hash(["random-axis", seed, layer])[:8], 16))
        w = rng.normal(size=x_pool.shape[1])
    else:
        return None, center
    return w / np.linalg.norm(w), center


def fit_axis(
    name: str,
    layer_index: int | None,
    layer: int | None,
    f: Features,
    pool: np.ndarray,
    tags: np.ndarray,
    seed: int,
) -> Axis | None:
    """The axis ``name`` at a declared layer, fitted on the pool rows; None when it cannot
    be fitted (more components asked than sentences)."""
    direction = center = None
    var = float("nan")
    if name not in ("entropy", "length", "norm"):
        assert layer_index is not None and layer is not None
        x = f.acts[:, layer_index].astype(float)
        direction, center = direction_for(name, x[pool], tags[pool], seed, layer)
        if direction is None:
            return None
        xc = x[pool] - x[pool].mean(axis=0)
        total = float((xc**2).sum())
        var = float(((xc @ direction) ** 2).sum() / total) if total > 0 else float("nan")
    axis = Axis(name, layer_index, direction, center, 0.0, 1.0, var)
    scores = axis.score(f)
    sd = float(scores.std())
    return Axis(name, layer_index, direction, center, float(np.median(scores)), sd or 1.0, var)
