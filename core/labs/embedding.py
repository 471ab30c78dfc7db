"""Views of trained models for the Adaptation page: decision surfaces on a grid and 2-D
embeddings (PCA or t-SNE, scikit-learn) of the feature layer. No streamlit, no plotly.

Every random draw (subsamples, t-SNE's initial layout) takes its seed from the Scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits

from core.data.domains import DomainData, plot_grid, subsample
from core.errors import InputError
from core.labs.adaptation import AdaptationRun
from core.nn.networks import Networks
from core.training.methods import METHODS_BY_NAME
from core.training.train import TrainedModels

PROJECTIONS = {"pca": "PCA", "tsne": "t-SNE"}
EMBEDDING_POINTS = 250  # per domain: t-SNE is quadratic in the points
GRID_RESOLUTION = 100
TSNE_ITERATIONS = 500


@dataclass(frozen=True)
class DecisionSurfaces:
    """Class probabilities of one model per method on a regular grid of the input plane.

    ``probabilities[method]`` is ``[len(ys), len(xs), K]``, ``None`` where every seed diverged.
    """

    xs: np.ndarray
    ys: np.ndarray
    probabilities: dict[str, np.ndarray | None]
    models: dict[str, int | None]


def decision_surfaces(run: AdaptationRun, data: DomainData, resolution: int = GRID_RESOLUTION,
                      seed: int | None = None) -> DecisionSurfaces:
    """p(y | x) of each method's shown model (``run.shown_model``: the median seed, or ``seed``) on a
    ``resolution`` × ``resolution`` grid.

    Raises
    ------
    InputError
        When the inputs are not 2-D (``feature_map=lift3d``).
    """
    xs, ys, proba = grid_probabilities(run.trained, data, resolution)
    models = {method: run.shown_model(method, seed) for method in run.methods}
    return DecisionSurfaces(xs, ys, {method: None if m is None else proba[m] for method, m in models.items()}, models)


def grid_probabilities(trained: TrainedModels, data: DomainData, resolution: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every model's p(y | x) on a ``resolution`` × ``resolution`` grid over :func:`plane_ranges`.

    Returns ``xs``, ``ys`` and float32 probabilities ``[M, len(ys), len(xs), K]``.

    Raises
    ------
    InputError
        When the inputs are not 2-D (``feature_map=lift3d``).
    """
    xs, ys, grid = plot_grid(data, resolution)
    proba = trained.predict_proba(grid)
    return xs, ys, proba.reshape(len(proba), len(ys), len(xs), -1).astype(np.float32)



@dataclass(frozen=True)
class FeatureEmbedding:
    """2-D embeddings of the feature layer of a few models on the same points.

    ``points[method]`` is ``[n, 2]`` (source rows first, then target test rows);
    ``domain`` is 0 for source and 1 for target; ``labels`` the true classes (target test
    labels: reporting only); ``explained[method]`` PCA's explained variance ratios (PCA only);
    ``names[method]`` the human name of each model.
    """

    projection: str
    points: dict[str, np.ndarray]
    domain: np.ndarray
    labels: np.ndarray
    explained: dict[str, tuple[float, float]]
    names: dict[str, str]


def project(h: np.ndarray, projection: str, seed: int) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Features ``[n, H]`` embedded in 2-D by ``projection``; PCA also gives its explained variance ratios."""
    if projection == "pca":
        pca = PCA(n_components=2, random_state=seed).fit(h)
        return pca.transform(h), tuple(float(v) for v in np.nan_to_num(pca.explained_variance_ratio_))
    perplexity = float(min(30.0, (len(h) - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                max_iter=TSNE_ITERATIONS, random_state=seed)
    with threadpool_limits(limits=1, user_api="openmp"):  # idle OpenMP threads spin: 10x slower on 2 cores
        return tsne.fit_transform(h), None


def embed_models(networks: Networks, models: dict[str, int], names: dict[str, str], data: DomainData,
                 projection: str = "pca", max_points: int = EMBEDDING_POINTS) -> FeatureEmbedding:
    """Embed the feature layer of ``networks``' model ``models[key]`` for each key in 2-D.

    Each model has its own feature space, so each is embedded separately, on the same
    subsample of source points and target test points.
    """
    if projection not in PROJECTIONS:
        raise InputError("projection", f"expected one of {', '.join(PROJECTIONS)}, got {projection!r}")
    seed = data.scenario.seed
    source = subsample(len(data.source_x), max_points, seed)
    target = subsample(len(data.target_test_x), max_points, seed + 1)
    x = np.concatenate([data.source_x[source], data.target_test_x[target]])
    domain = np.concatenate([np.zeros(len(source), dtype=int), np.ones(len(target), dtype=int)])
    labels = np.concatenate([data.source_y[source], data.target_test_y[target]])
    features = networks.select(list(models.values())).features(x)
    points, explained = {}, {}
    for i, key in enumerate(models):
        points[key], ratios = project(features[i].astype(np.float64), projection, seed)
        if ratios is not None:
            explained[key] = ratios
    return FeatureEmbedding(projection, points, domain, labels, explained, dict(names))


def feature_embedding(run: AdaptationRun, data: DomainData, methods: tuple[str, ...],
                      projection: str = "pca", max_points: int = EMBEDDING_POINTS) -> FeatureEmbedding:
    """Embed the feature layer of each method's median seed (``run.shown_model``) in 2-D (:func:`embed_models`).

    Raises
    ------
    InputError
        On an unknown projection or a method whose every seed diverged.
    """
    models = {method: run.shown_model(method) for method in methods}
    for method, m in models.items():
        if m is None:
            raise InputError("method", f"every seed of {method} diverged: no features to show")
    names = {method: METHODS_BY_NAME[method].label for method in methods}
    return embed_models(run.trained.as_networks(), models, names, data, projection, max_points)
