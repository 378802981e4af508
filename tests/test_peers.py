"""The peers (benchmarks/peers) are our networks and their steps train: for every model, each framework's
trainable parameters and forward FLOPs per image equal ours, and one step at batch 4 moves every weight
of D, of G and of G's average. Their speeds are for people (`bench.py --peers`), not for asserts.

Keras runs in one subprocess for all three models (it needs eager execution, which this process turns
off when it builds our graphs); XLA's compile is smoked on the FC only, a few seconds where the
convolutional ones take tens. PyTorch is optional: its tests skip without it."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO

import bench
from benchmarks import report
from benchmarks.peers import ours, rounds

MODELS = list(report.MODELS)

KERAS_CHECK = """
import json
import numpy as np
from benchmarks.peers import harness, keras_peers

keras_peers.MNIST_IMAGES = 64  # the data's size is the benchmark's concern, not the test's

def moved(before, weights):
    return all(not np.array_equal(b, np.array(w)) for b, w in zip(before, weights, strict=True))

checked = {}
for key in ("fc", "fc xla", "fc minibatch", "dcgan", "cdcgan", "cdcgan class-loss"):
    model, jit = key.split()[0], key.endswith("xla")
    hp = harness.hyperparameters(model, 4)
    if key.endswith("class-loss"):
        hp.class_loss = 1.0
    if key.endswith("minibatch"):
        hp.minibatch_kernels = 3
    gan = keras_peers.KerasGAN(model, hp, jit)
    nets = {"g": gan.g.trainable_variables, "d": gan.d.trainable_variables, "average": gan.average}
    before = {name: [np.array(w) for w in weights] for name, weights in nets.items()}
    gan.run()
    losses = gan.finish()
    moves = {name: moved(before[name], weights) for name, weights in nets.items()}
    checked[key] = {"sizes": keras_peers.sizes(gan.g, gan.d), "moved": moves, "losses": losses}
print(json.dumps(checked))
"""


@pytest.fixture(scope="module")
def our_sizes():
    return {name: ours.sizes(name, *report.model_args(report.MODELS[name], None)) for name in MODELS}


@pytest.fixture(scope="module")
def our_class_loss_sizes():
    """Our cDCGAN's with CLASS_LOSS on: D's classifier head (6,272 × 10 + 10) counts."""
    module, hp = report.model_args(report.MODELS["cdcgan"], None)
    hp.class_loss = 1.0
    return ours.sizes("cdcgan", module, hp)


@pytest.fixture(scope="module")
def our_minibatch_sizes():
    """Our FC's with three minibatch kernels (a count no default has): D's projection, 512 × 15, and
    three more inputs to its last layer count."""
    module, hp = report.model_args(report.MODELS["fc"], None)
    hp.minibatch_kernels = 3
    return ours.sizes("fc", module, hp)


@pytest.fixture(scope="module")
def keras_checked():
    done = subprocess.run([sys.executable, "-c", KERAS_CHECK], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_our_sizes_are_counted_by_hand_for_the_fc(our_sizes):
    """z96 → 1024 → 1024 → 784 (batch norm's γ and β on the hidden layers, no bias before them); 784 → 512
    → 512, projected to 8 kernels × 5 for the batch closeness, → [512 + 8] → 1."""
    g_weights, d_weights = 96 * 1024 + 1024 * 1024 + 1024 * 784, 784 * 512 + 512 * 512 + 512 * 40 + 520
    assert our_sizes["fc"]["params"] == {"g": g_weights + 2 * 2 * 1024 + 784, "d": d_weights + 512 + 512 + 1}
    assert our_sizes["fc"]["flops_per_image"] == {"g": 2 * g_weights, "d": 2 * d_weights}


@pytest.mark.parametrize("model", MODELS)
def test_keras_peer_is_our_network_and_its_step_trains(model, our_sizes, keras_checked):
    for key in [model] + ([f"{model} xla"] if model == "fc" else []):
        checked = keras_checked[key]
        assert checked["sizes"] == our_sizes[model]
        assert checked["moved"] == {"g": True, "d": True, "average": True}
        assert all(np.isfinite(checked["losses"]))


def test_keras_peer_learns_the_auxiliary_classifier_under_class_loss(our_sizes, our_class_loss_sizes, keras_checked):
    """With CLASS_LOSS, D's ten-way head is ours (its weights in the count), and one step moves it: it
    has no gradient but the class term's."""
    checked = keras_checked["cdcgan class-loss"]
    assert checked["sizes"] == our_class_loss_sizes != our_sizes["cdcgan"]
    assert checked["moved"] == {"g": True, "d": True, "average": True}
    assert all(np.isfinite(checked["losses"]))


def test_keras_peer_has_our_minibatch_discrimination(our_sizes, our_minibatch_sizes, keras_checked):
    checked = keras_checked["fc minibatch"]
    assert checked["sizes"] == our_minibatch_sizes != our_sizes["fc"]
    assert checked["moved"] == {"g": True, "d": True, "average": True}
    assert all(np.isfinite(checked["losses"]))


@pytest.fixture
def torch_peers(monkeypatch):
    """The PyTorch peer (imported before torch, so that its OpenMP waits passively: see torch_peers),
    on one thread and 64 images."""
    peers = pytest.importorskip("benchmarks.peers.torch_peers")
    monkeypatch.setattr(peers, "MNIST_IMAGES", 64)
    peers.torch.set_num_threads(1)
    return peers


@pytest.mark.parametrize("model", MODELS)
def test_pytorch_peer_is_our_network_and_its_step_trains(model, our_sizes, torch_peers):
    from benchmarks.peers import harness

    torch = torch_peers.torch
    gan = torch_peers.TorchGAN(model, harness.hyperparameters(model, 4), channels_last=model != "fc", device="cpu")
    assert gan.sizes() == our_sizes[model]
    nets = {"g": gan.g_params, "d": list(gan.d.parameters()), "average": gan.average}
    before = {name: [p.detach().clone() for p in params] for name, params in nets.items()}
    gan.run()
    assert all(np.isfinite(gan.finish()))
    for name, params in nets.items():
        assert all(not torch.equal(b, p) for b, p in zip(before[name], params, strict=True)), name


def test_a_peer_prints_one_json_line(capsys, torch_peers):
    torch_peers.main(["--model", "fc", "--batch", "4", "--steps", "1", "--warmup", "0", "--repeats", "1", "--threads", "1"])
    record = json.loads(capsys.readouterr().out)
    assert record["images_per_s"] > 0 and record["threads"] == 1 and record["variant"] == "eager"
    assert set(record["params"]) == set(record["flops_per_image"]) == {"g", "d"}


def test_without_pytorch_one_line_says_so_and_the_rest_runs(monkeypatch, tmp_path, capsys, our_sizes):
    """Torch hidden (an import of it fails), the timings stubbed: ours and Keras' columns, the check
    line, a failed peer's error, and the JSON's table."""
    monkeypatch.setitem(sys.modules, "torch", None)
    asked = []

    def peer(column, name, batch, args):
        asked.append(column.key)
        if column.key == "keras_xla":
            return {"error": "XlaRuntimeError: no"}
        return {"images_per_s": 50.0, **our_sizes[name]}

    monkeypatch.setattr(rounds, "measure_ours", lambda *_: 100.0)
    monkeypatch.setattr(rounds, "synthetic_mnist", lambda _: None)  # ours' data: not needed by the stub
    monkeypatch.setattr(rounds, "measure_peer", peer)
    out = tmp_path / "peers.json"
    bench.main(["--peers", "--model", "fc", "--json", str(out)])
    printed = capsys.readouterr().out
    assert printed.count(rounds.TORCH_MISSING) == 1 and "PyTorch" not in printed.replace(rounds.TORCH_MISSING, "")
    assert asked == ["keras", "keras_xla"] * rounds.ROUNDS
    row = "fc (128)         | 100 · 100     | 50 · 50 ×2.00            | failed"
    assert row in printed.splitlines()
    assert "    same networks: Keras params ✓, FLOPs ✓" in printed and "Keras + XLA failed: XlaRuntimeError: no" in printed
    assert row in json.loads(out.read_text())["table"]


def test_a_different_network_is_named_with_both_figures():
    sizes = {"params": {"peer": {"g": 10, "d": 1001}, "ours": {"g": 10, "d": 1000}}}
    sizes["flops_per_image"] = {"peer": {"g": 4, "d": 6}, "ours": {"g": 4, "d": 6}}
    assert rounds._same(sizes) == "params ✗ (G 10 vs ours 10, D 1,001 vs ours 1,000), FLOPs ✓"


def test_the_peers_mode_seeking_penalty_is_the_scripts():
    """harness.mode_seeking_penalty, given numpy here (keras.ops and torch read alike), equals
    gan_cdcgan's."""
    import gan_cdcgan
    from benchmarks.peers import harness
    from common.tfcompat import tf

    rng = np.random.default_rng(0)
    fake, z = rng.uniform(-1, 1, (6, 28, 28, 1)), rng.normal(size=(6, 5))
    with tf.Graph().as_default(), tf.Session() as sess:
        script = sess.run(gan_cdcgan.mode_seeking_penalty(tf.constant(fake), tf.constant(z), 3))
    assert harness.mode_seeking_penalty(fake, z, 3, np) == pytest.approx(script, rel=1e-6)


def test_pytorch_peer_pairs_the_digits_under_mode_seeking(torch_peers):
    from benchmarks.peers import harness

    hp = harness.hyperparameters("cdcgan", 4)
    hp.mode_seeking = 1.0
    gan = torch_peers.TorchGAN("cdcgan", hp, channels_last=True, device="cpu")
    _, labels = gan._noise()
    assert torch_peers.torch.equal(labels[:2], labels[2:])
    gan.run()
    assert all(np.isfinite(gan.finish()))


def test_pytorch_peer_learns_the_auxiliary_classifier_under_class_loss(our_class_loss_sizes, torch_peers):
    from benchmarks.peers import harness

    hp = harness.hyperparameters("cdcgan", 4)
    hp.class_loss = 1.0
    gan = torch_peers.TorchGAN("cdcgan", hp, channels_last=True, device="cpu")
    assert gan.sizes() == our_class_loss_sizes
    before = [p.detach().clone() for p in gan.d.classifier.parameters()]
    gan.run()
    assert all(np.isfinite(gan.finish()))
    assert all(not torch_peers.torch.equal(b, p) for b, p in zip(before, gan.d.classifier.parameters(), strict=True))


def test_pytorch_peer_has_our_minibatch_discrimination(our_minibatch_sizes, torch_peers):
    from benchmarks.peers import harness

    hp = harness.hyperparameters("fc", 4)
    hp.minibatch_kernels = 3
    gan = torch_peers.TorchGAN("fc", hp, channels_last=False, device="cpu")
    assert gan.sizes() == our_minibatch_sizes
    layer = next(m for m in gan.d.modules() if isinstance(m, torch_peers.MinibatchDiscrimination))
    before = layer.projection.weight.detach().clone()
    gan.run()
    assert all(np.isfinite(gan.finish()))
    assert not torch_peers.torch.equal(before, layer.projection.weight)
