"""--deterministic: a tiny training, --generate and evaluate.py all run under TensorFlow's op
determinism, give on CPU exactly what they give without it, and give it again on a rerun.

Op determinism is process-wide and cannot be turned off, so it is never enabled in the pytest process:
each configuration runs in a child, which calls the entry points' mains in turn (on the tiny data and
with 200 images per evaluation, so the classifier costs little) and reports whether determinism was on.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, TINY_CONV, max_abs_diff, read_history, run_main, weights

import evaluate
import gan_fc
from common import loop, session

# Dropout on and an evaluation at the epoch's end: every graph the training builds, the classifier's too.
TRAIN = [*TINY_CONV, "--dropout", "0.3", "--eval-every", "1", "--epochs", "1", "--steps-per-epoch", "3"]

CHILD = """
import dataclasses, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from helpers import run_main
import evaluate, gan_dcgan
from common import data, history
from common.tfcompat import tf
data.DATASETS["mnist"] = dataclasses.replace(data.DATASETS["mnist"], sha256=json.loads(sys.argv[2]))
history.EVAL_SAMPLES = 200  # the classifier's cost, not what is tested
codes = [run_main(evaluate if program == "evaluate" else gan_dcgan, argv) for program, argv in json.loads(sys.argv[3])]
with tf.Graph().as_default():  # under op determinism an unseeded random op is refused
    try:
        tf.random_normal([1])
        deterministic = False
    except RuntimeError:
        deterministic = True
print(json.dumps({"codes": codes, "deterministic": deterministic}))
"""


def default_sigint():
    """In the child: Ctrl-C as a terminal delivers it (a background test run inherits SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def train_generate_evaluate(root, data_files, *extra):
    """Train a tiny gan_dcgan run in `root`/run, draw 20 images from it and evaluate it, all in one
    child process with the flags `extra`; return the run folder."""
    folder, spec = data_files
    run = root / "run"
    steps = [
        ("train", [*TRAIN, "--data-dir", folder, "--out-dir", run, *extra]),
        ("generate", ["--out-dir", run, "--generate", "20", "--to", root / "g.npz", *extra]),
        ("evaluate", [run, "--samples", "200", *extra]),
    ]
    steps = [(program, [str(a) for a in argv]) for program, argv in steps]
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), json.dumps(spec.sha256), json.dumps(steps)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=default_sigint,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 0], "deterministic": "--deterministic" in extra}, result.stderr
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_mnist_files):
    """{name: run folder}: without the flag, with it, and with it again in a fresh process."""
    made = {}
    for name, extra in (("plain", []), ("deterministic", ["--deterministic"]), ("rerun", ["--deterministic"])):
        made[name] = train_generate_evaluate(tmp_path_factory.mktemp(name), tiny_mnist_files, *extra)
    return made


@pytest.mark.parametrize("other", ["plain", "rerun"])
def test_deterministic_training_generate_and_evaluate_give_the_same_bits(runs, other):
    """The same weights, history (the in-training evaluation's numbers too), images and metrics as a
    run without the flag (CPU kernels are deterministic already), and as a rerun with it."""
    a, b = runs["deterministic"], runs[other]
    assert max_abs_diff(weights(a), weights(b)) == 0
    assert read_history(a) == read_history(b)
    assert read_history(a)[-1][-1] != ""  # the epoch's evaluation ran (its FD is in the last row)
    with np.load(a.parent / "g.npz") as x, np.load(b.parent / "g.npz") as y:
        assert x["images"].shape == (20, 28, 28, 1)
        np.testing.assert_array_equal(x["images"], y["images"])
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    assert (a / "samples" / "epoch_0001.png").read_bytes() == (b / "samples" / "epoch_0001.png").read_bytes()


def test_deterministic_is_recorded_but_is_not_part_of_the_run_name(runs):
    plain = json.loads((runs["plain"] / "config.json").read_text())
    deterministic = json.loads((runs["deterministic"] / "config.json").read_text())
    assert plain["deterministic"] is False and deterministic["deterministic"] is True
    assert plain["run_name"] == deterministic["run_name"]
    assert "deterministic" not in deterministic["hparams"]


def test_each_entry_point_turns_determinism_on_before_its_work(tmp_path, monkeypatch, capsys):
    """Without the flag, nothing; with it, once, even when the command then stops at bad input (here
    a folder without a run): the mains call it first. Recorded, not enabled, in this process."""
    calls = []
    monkeypatch.setattr(loop, "deterministic_ops", lambda: calls.append("loop"))
    monkeypatch.setattr(session, "deterministic_ops", lambda: calls.append("evaluate"))
    generate = ["--out-dir", tmp_path, "--generate", "4"]
    assert run_main(gan_fc, generate) == 2 and calls == []
    assert run_main(gan_fc, [*generate, "--deterministic"]) == 2 and calls == ["loop"]
    assert run_main(evaluate, [tmp_path]) == 2 and calls == ["loop"]
    assert run_main(evaluate, [tmp_path, "--deterministic"]) == 2 and calls == ["loop", "evaluate"]
    assert "no checkpoint" in capsys.readouterr().err


def test_an_op_without_a_deterministic_gpu_kernel_is_one_line(capsys):
    """What TensorFlow raises under op determinism for such an op (none of ours on CPU; unverified on a GPU)."""
    from common import errors
    from common.tfcompat import tf

    message = "Deterministic GPU implementation of unsorted segment reduction op not available.\n\t [[{{node x}}]]"
    with pytest.raises(SystemExit) as stopped, errors.exit_codes("gan_dcgan.py"):
        raise tf.errors.UnimplementedError(None, None, message)
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no deterministic kernel" in err and "run without --deterministic" in err
