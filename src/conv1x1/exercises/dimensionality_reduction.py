"""Exercises of the chapter "Dimensionality reduction".

Five questions: the cost of an Inception branch, the error of the best
reduction from a covariance's eigenvalues, a prediction of how many
channels a PCA needs when some channels are combinations of others, two
bugs in a PCA reconstruction, and a learned reduction that seems to beat
PCA.
"""

from __future__ import annotations

import numpy as np

from conv1x1.exercises._core import (
    Result,
    check_choice,
    check_function,
    check_number,
)
from conv1x1.exercises._registry import Exercise

# --------------------------------------------------------------------------
# Arithmetic: the 3x3 branch of Inception (3a), 192 -> 96 -> 128 at 28 x 28.

INCEPTION_MACS = 28 * 28 * 192 * 96 + 9 * 28 * 28 * 96 * 128

# --------------------------------------------------------------------------
# Arithmetic: Eckart-Young on a covariance with eigenvalues 5, 3, 1, 0.6, 0.4.

EIGENVALUES = (5.0, 3.0, 1.0, 0.6, 0.4)
EIGEN_KEPT = 2

# --------------------------------------------------------------------------
# Predict: 32 channels of full rank, plus four that are combinations of them
# (one with a constant added). The bias does the centring, so a constant
# adds no direction: d = 32 rebuilds all 36 channels.

RANK_ANSWER = 32

# --------------------------------------------------------------------------
# Find the bugs: a PCA reconstruction that does not centre before the SVD
# and takes columns of V^T instead of rows.


def reference_pca_reconstruct(feature_map, d):
    """The best rank-``d`` affine reconstruction of an (H, W, C) map."""
    feature_map = np.asarray(feature_map, dtype=np.float64)
    rows = feature_map.reshape(-1, feature_map.shape[-1])
    mu = rows.mean(axis=0)
    _, _, v_t = np.linalg.svd(rows - mu, full_matrices=False)
    v_d = v_t[:d].T                                    # (C, d)
    return ((rows - mu) @ v_d @ v_d.T + mu).reshape(feature_map.shape)


def pca_inputs(rng):
    """A random (H, W, C) map with correlated channels and a mean far from 0.

    The eigenvalues are well separated, so the rank-d reconstruction is
    unique and the comparison is stable.
    """
    h, w, c = (int(v) for v in rng.integers(4, 9, size=3))
    scales = np.geomspace(4.0, 0.2, c)
    rotation, _ = np.linalg.qr(rng.normal(size=(c, c)))
    feature_map = (rng.normal(size=(h, w, c)) * scales) @ rotation.T
    feature_map = feature_map + rng.uniform(2.0, 5.0, size=c)
    return feature_map, int(rng.integers(1, c))


def check_pca(fn) -> Result:
    """Compare the learner's ``my_pca_reconstruct`` with the reference."""
    return check_function(fn, reference_pca_reconstruct, pca_inputs, trials=6,
                          rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------
# Conceptual: a learned reduction that reports an error below PCA's.

LEARNED_OPTIONS = (
    "Gradient descent found a better projection than the SVD",
    "The two errors are not measured the same way or on the same data",
    "The autoencoder's biases give it an advantage PCA lacks",
    "PCA is stuck in a local minimum that Adam's momentum escapes",
)
LEARNED_EXPLANATIONS = {
    LEARNED_OPTIONS[0]: "Eckart-Young rules this out: no pair of linear 1x1 "
                        "convolutions through 4 channels beats the sum of the "
                        "discarded eigenvalues, on the data PCA was computed on.",
    LEARNED_OPTIONS[2]: "PCA written as two 1x1 convolutions has biases too: "
                        "they do the centring.",
    LEARNED_OPTIONS[3]: "PCA is not found by a search that could get stuck: the "
                        "SVD gives the global optimum in closed form.",
}

EXERCISES = (
    Exercise(
        label="dimensionality-reduction-ex-inception",
        kind="arithmetic",
        check=lambda answer: check_number(answer, INCEPTION_MACS),
        hints=("Add the MACs of the two layers; each costs "
               "k * k * H * W * C_in * C_out.",
               "The 1x1 layer reads 192 channels and writes 96; the 3x3 layer "
               "reads 96, not 192, and writes 128."),
        placeholder="a whole number, e.g. 1,234,567",
    ),
    Exercise(
        label="dimensionality-reduction-ex-eigen",
        kind="arithmetic",
        check=lambda answer: check_number(
            answer, sum(EIGENVALUES[EIGEN_KEPT:]), rel_tol=1e-3),
        hints=("Eckart-Young: which eigenvalues does the best reduction to "
               "2 channels keep?",
               "The error of the best rank-d reduction is the sum of the "
               "eigenvalues it discards."),
        placeholder="a decimal number",
    ),
    Exercise(
        label="dimensionality-reduction-ex-rank",
        kind="predict",
        check=lambda answer: check_number(answer, RANK_ANSWER, rel_tol=0.0),
        hints=("A channel that is a linear combination of other channels adds "
               "no new direction to the pixels' cloud.",
               "What does adding a constant to a channel do to the centred "
               "pixels, which are what PCA looks at?",
               "The 32 original channels have no exact redundancy: the "
               "chapter's error curve is above zero up to d = 31. So the "
               "answer is 32 plus the new directions the four channels add."),
        placeholder="a whole number",
    ),
    Exercise(
        label="dimensionality-reduction-ex-pca",
        kind="debug",
        check=check_pca,
        widget="function",
        function_name="my_pca_reconstruct",
        hints=("Try it on a map whose mean is far from zero, e.g. "
               "features + 10, and compare with pca_reconstruct.",
               "numpy's SVD returns V^T: the principal directions are its "
               "rows, not its columns.",
               "Take the SVD of rows - mu, not of rows, and keep "
               "v_t[:d].T, a (C, d) matrix."),
    ),
    Exercise(
        label="dimensionality-reduction-ex-learned",
        kind="conceptual",
        widget="choice",
        options=LEARNED_OPTIONS,
        check=lambda answer: check_choice(answer, LEARNED_OPTIONS[1],
                                          LEARNED_OPTIONS,
                                          explanations=LEARNED_EXPLANATIONS),
        hints=("Can any pair of linear 1x1 convolutions through 4 channels "
               "beat the sum of the discarded eigenvalues?",
               "Keras's loss='mse' averages over channels; this chapter's error "
               "sums over them."),
    ),
)
