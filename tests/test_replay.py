"""Snapshots from the batched trainer, the live frames and the replay built from them, and the replay figures."""

import numpy as np
import pytest

from core.data.domains import generate, plot_grid
from core.errors import InputError
from core.figures.replay import LiveBoundaries, boundary_replay_figure, feature_replay_figure, live_accuracy_figure
from core.labs.adaptation import run_adaptation
from core.labs.replay import PROBABILITY_LEVELS, REPLAY_FRAMES
from core.scenario import Scenario
from core.training.snapshots import SnapshotPlan
from core.training.train import ModelSpec, TrainSettings, train_models

pytestmark = pytest.mark.unit

SMALL = Scenario(rotation=35, n_source=200, n_target=200, n_test=200)
QUICK = TrainSettings(steps=60)
METHODS = ("source_only", "dann", "mmd")


@pytest.fixture(scope="module")
def live_run():
    frames = []
    run = run_adaptation(SMALL, METHODS, n_seeds=3, settings=QUICK, on_frame=frames.append)
    return run, frames


def _specs():
    return [ModelSpec(method, seed, 1.0) for method in METHODS for seed in range(2)]


def test_the_last_snapshot_is_the_final_model_and_recording_changes_nothing():
    data = generate(SMALL)
    _, _, grid = plot_grid(data, 20)
    plan = SnapshotPlan.evenly(QUICK.steps, 4, grid, data.target_test_x[:50])
    seen = []
    recorded = train_models(data.training_inputs(), _specs(), QUICK, 2, device="cpu", snapshots=plan,
                            on_snapshot=seen.append)
    plain = train_models(data.training_inputs(), _specs(), QUICK, 2, device="cpu")
    assert [s.step for s in recorded.snapshots] == [0, 20, 40, 60] and list(recorded.snapshots) == seen
    last = recorded.snapshots[-1]
    np.testing.assert_array_equal(last.grid_proba, recorded.predict_proba(grid))
    np.testing.assert_array_equal(last.features, recorded.features(data.target_test_x[:50]))
    for a, b in zip(recorded.weights, plain.weights):
        np.testing.assert_array_equal(a, b)  # snapshots only read the models
    assert np.isnan(recorded.snapshots[0].task_loss).all() and np.isfinite(last.task_loss).all()
    assert np.isnan(last.alignment_loss[:2]).all() and np.isfinite(last.alignment_loss[2:]).all()  # source-only


def test_a_bad_plan_is_a_one_line_error():
    data = generate(SMALL)
    with pytest.raises(InputError, match="snapshots"):
        train_models(data.training_inputs(), _specs(), QUICK, 2, snapshots=SnapshotPlan((0, 70)))
    with pytest.raises(InputError, match="snapshots"):
        SnapshotPlan.evenly(QUICK.steps, 1)


def test_live_frames_show_each_methods_median_seed_at_every_snapshot(live_run):
    run, frames = live_run
    assert [f.step for f in frames] == list(run.replay.steps) and len(frames) == REPLAY_FRAMES
    last = frames[-1]
    assert set(last.probabilities) == set(METHODS)
    for method in METHODS:
        surface = last.probabilities[method]
        assert surface.shape == (len(last.ys), len(last.xs), 2)
        assert np.allclose(surface.sum(axis=-1), 1.0, atol=1e-5)
        assert last.seeds[method] in (0, 1, 2) and 0.0 <= last.accuracy[method] <= 1.0


def test_the_replay_keeps_the_final_median_seed_compactly(live_run):
    run, _ = live_run
    replay = run.replay
    assert replay.methods == METHODS and not run.trained.snapshots  # the raw snapshots are not kept
    data = generate(SMALL)
    _, _, grid = plot_grid(data, len(replay.xs))
    for method in METHODS:
        m = run.shown_model(method)
        assert replay.seeds[method] == run.rows[m]["seed"]
        final = run.trained.predict_proba(grid)[m].reshape(len(replay.ys), len(replay.xs), -1)
        assert np.abs(replay.surface(method, -1) - final).max() <= 0.5 / PROBABILITY_LEVELS + 1e-6
        assert replay.features[method].shape == (REPLAY_FRAMES, len(replay.points.x), 2)
        assert replay.probabilities[method].dtype == np.uint8
        assert not np.array_equal(replay.features[method][0], replay.features[method][-1])  # the points move
    assert replay.n_bytes < 400_000


def test_replay_figures_have_one_frame_per_snapshot_and_fixed_axes(live_run):
    run, frames = live_run
    data = generate(SMALL)
    boundaries = boundary_replay_figure(run.replay, data, ["source_only", "dann"])
    assert len(boundaries.frames) == REPLAY_FRAMES
    assert [s.label for s in boundaries.layout.sliders[0].steps] == [str(s) for s in run.replay.steps]
    assert [b.label for b in boundaries.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    first, last = boundaries.frames[0], boundaries.frames[-1]
    assert all(t.x is None and t.z is not None for t in last.data)  # frames carry the surfaces only
    assert not np.array_equal(first.data[0].z, last.data[0].z)
    assert "step 60" in last.layout.annotations[0].text
    features = feature_replay_figure(run.replay, ["dann"])
    assert len(features.frames) == REPLAY_FRAMES
    span = run.replay.features["dann"].astype(np.float32)
    x_range = features.layout.xaxis.range
    assert x_range[0] <= span[..., 0].min() and span[..., 0].max() <= x_range[1]  # every frame inside the axes
    live = LiveBoundaries(frames[3], data)
    figure = live.update(frames[3])
    assert "step 9 of 60" in figure.layout.title.text and sum(t.type == "heatmap" for t in figure.data) == len(METHODS)
    before = np.array(figure.data[0].z)
    figure = live.update(frames[-1])  # the same figure, new surfaces and titles
    assert "step 60 of 60" in figure.layout.title.text and not np.array_equal(before, figure.data[0].z)
    assert "seed" in figure.layout.annotations[0].text
    accuracy = live_accuracy_figure(frames[:5])
    assert list(accuracy.layout.xaxis.range) == [0, QUICK.steps] and len(accuracy.data) == len(METHODS)


def test_the_cnn_trainer_records_snapshots_too():
    data = generate(Scenario(dataset="digits", rotation=30, n_source=100, n_target=60, n_test=100))
    plan = SnapshotPlan.evenly(20, 3, points=data.target_test_x[:20])
    settings = TrainSettings(steps=20, batch_size=16)
    trained = train_models(data.training_inputs(), [ModelSpec("mmd", 0, 1.0)], settings, 10, device="cpu",
                           snapshots=plan)
    assert [s.step for s in trained.snapshots] == [0, 10, 20] and trained.snapshots[0].grid_proba is None
    np.testing.assert_allclose(trained.snapshots[-1].features, trained.features(data.target_test_x[:20]), atol=1e-5)
