"""The batched CNN: shapes, each model equals itself alone, per-model inputs, freezing, fine-tuning."""

import pytest
import torch

from core.errors import InputError
from core.nn.conv import BatchedCNN
from core.nn.models import seeded_generator
from core.nn.optim import BatchedAdam
from core.training.finetune import FitProblem, fit_batched
from tests.numeric import FLOAT64_ATOL

pytestmark = pytest.mark.unit

SHAPE = (3, 9, 10)  # odd sides: the stride-2 blocks round up (9 -> 5 -> 3, 10 -> 5 -> 3)
D = 3 * 9 * 10
SEEDS = (10, 11, 12, 13)


def _net(seeds=SEEDS, **kwargs):
    return BatchedCNN(len(seeds), SHAPE, out_features=kwargs.pop("out_features", 5),
                      generator=[seeded_generator(s) for s in seeds], device="cpu", **kwargs)


def _images(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=seeded_generator(seed), dtype=dtype)


def test_shapes_layers_and_description():
    net = _net(channels=(4, 6), hidden=(12, 7))
    x = _images(8, D)
    assert net.in_features == D and net.n_conv == 2 and net.n_layers == 5
    assert [tuple(w.shape) for w in net.weights] == [(4, 4, 3, 3, 3), (4, 6, 4, 3, 3), (4, 54, 12), (4, 12, 7),
                                                     (4, 7, 5)]
    assert [tuple(b.shape) for b in net.biases] == [(4, 4), (4, 6), (4, 12), (4, 7), (4, 5)]
    assert net.convolved(x).shape == (4, 8, 6 * 3 * 3)
    assert net.features(x).shape == (4, 8, 7) and net.feature_dim == 7
    assert net.head(net.features(x)).shape == net(x).shape == (4, 8, 5)
    assert net.parameter_count() == (4 * 27 + 4) + (6 * 36 + 6) + (54 * 12 + 12) + (12 * 7 + 7) + (7 * 5 + 5)
    assert net.describe() == "3×9×10 → conv4/2 → conv6/2 → 12 → 7 → 5"
    no_hidden = _net(channels=(4,), hidden=())
    assert no_hidden.feature_dim == 4 * 5 * 5 and no_hidden.features(x).shape == (4, 8, 100)


def test_a_model_in_a_batch_equals_the_same_model_built_alone():
    # float64: the grouped convolution of the batch sums in another order than a model's own
    batch, alone = _net(dtype=torch.float64), _net(seeds=(12,), dtype=torch.float64)
    for p, q in zip(batch.parameters(), alone.parameters()):
        assert torch.equal(p[2], q[0])  # same draws from the same seed
    x = _images(16, D, dtype=torch.float64)
    out_batch, out_alone = batch(x), alone(x)
    torch.testing.assert_close(out_batch[2], out_alone[0], rtol=0, atol=FLOAT64_ATOL)
    out_batch.square().sum().backward()  # per-model losses summed: model 2's gradient is its own
    out_alone.square().sum().backward()
    for p, q in zip(batch.parameters(), alone.parameters()):
        torch.testing.assert_close(p.grad[2], q.grad[0], rtol=0, atol=FLOAT64_ATOL)


def test_per_model_inputs_give_each_model_its_own_images():
    batch = _net(dtype=torch.float64)  # float64: grouped, wide and single convolutions sum in other orders
    x = _images(4, 6, D, dtype=torch.float64)
    out = batch(x)
    assert out.shape == (4, 6, 5)
    for m, seed in enumerate(SEEDS):
        torch.testing.assert_close(out[m], _net(seeds=(seed,), dtype=torch.float64)(x[m])[0], rtol=0,
                                   atol=FLOAT64_ATOL)
    shared = _images(6, D, seed=1, dtype=torch.float64)  # the shared path (one wide convolution) equals the grouped one
    torch.testing.assert_close(batch(shared), batch(shared.expand(4, -1, -1)), rtol=0, atol=FLOAT64_ATOL)


def test_bad_inputs_and_settings_raise_one_error_type():
    net = _net()
    for bad in (torch.zeros(6, D - 1), torch.zeros(3, 6, D), torch.zeros(D)):
        with pytest.raises(InputError):
            net(bad)
    with pytest.raises(InputError):
        BatchedCNN(2, (3, 8), device="cpu")
    with pytest.raises(InputError):
        BatchedCNN(2, (3, 8, 8), channels=(0,), device="cpu")
    with pytest.raises(InputError):
        BatchedCNN(2, (3, 8, 8), generator=[seeded_generator(0)] * 3, device="cpu")


def test_a_zero_rate_keeps_a_convolution_block_fixed_under_batched_adam():
    net = _net()
    before = [p.detach().clone() for p in list(net.weights) + list(net.biases)]
    optimizer = BatchedAdam(list(net.weights) + list(net.biases))
    layer_rates = [torch.full((4,), 0.0 if layer == 0 else 0.01) for layer in range(net.n_layers)]
    x, y = _images(16, D), torch.randint(0, 5, (16,), generator=seeded_generator(2))
    for _ in range(3):
        optimizer.zero_grad()
        logits = net(x)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.repeat(4)).backward()
        assert net.weights[0].grad.abs().sum() > 0  # it gets a gradient, it just does not move
        optimizer.step(layer_rates + layer_rates)
    after = list(net.weights) + list(net.biases)
    for i, (p, q) in enumerate(zip(before, after)):
        layer = i % net.n_layers
        assert torch.equal(p, q) == (layer == 0), f"layer {layer}"


def _bright_pixel_images(n, gen):
    """Noisy 1×8×8 images with one bright pixel: class 1 if it lies in the right half."""
    position = torch.randint(0, 64, (n,), generator=gen)
    images = 0.1 * torch.randn(n, 64, generator=gen)
    images[torch.arange(n), position] += 3.0
    return images, (position % 8 >= 4).long()


def test_three_models_learn_a_tiny_image_task_in_the_finetuning_loop():
    gen = seeded_generator(3)
    (images, labels), (held_out, held_out_labels) = _bright_pixel_images(64, gen), _bright_pixel_images(256, gen)
    n_models, steps = 3, 60
    net = BatchedCNN(n_models, (1, 8, 8), channels=(4, 8), hidden=(16,), out_features=2,
                     generator=[seeded_generator(s) for s in range(n_models)], device="cpu")
    frozen_blocks = net.weights[0][2].detach().clone(), net.weights[1][2].detach().clone()
    rates = torch.full((steps, n_models, net.n_layers), 0.01)
    rates[:, 2, :2] = 0.0  # model 2 freezes both convolution blocks: only its dense layers learn
    problem = FitProblem(images.expand(n_models, -1, -1), labels.expand(n_models, -1),
                         torch.full((n_models, 64), 1.0 / 64), rates)
    accuracy = lambda x, y: (net(x).argmax(dim=-1) == y).float().mean(dim=1)  # noqa: E731
    with torch.no_grad():
        assert (accuracy(images, labels) < 0.75).all()
    assert fit_batched(net, problem) == []
    with torch.no_grad():
        assert (accuracy(images, labels) > 0.9).all(), accuracy(images, labels)
        assert (accuracy(held_out, held_out_labels) > 0.8).all(), accuracy(held_out, held_out_labels)
    assert torch.equal(net.weights[0][2], frozen_blocks[0]) and torch.equal(net.weights[1][2], frozen_blocks[1])
