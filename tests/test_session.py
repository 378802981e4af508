"""The GPU flags reach the sessions that train and that generate (what a user sets is what TF gets)."""

import json

import pytest
from helpers import TINY_FC, run_main

import gan_fc
from common.session import session_config
from common.tfcompat import tf

MEMORY_FLAGS = {  # flags: (per_process_gpu_memory_fraction, allow_growth) of every session
    "default": ([], 0.0, True),  # the README's default: no cap (0 is TensorFlow's "unset"), grow on demand
    "cap": (["--gpu-memory-fraction", "0.3"], 0.3, True),  # grow up to 30 %
    "reserve": (["--gpu-memory-fraction", "0.3", "--no-gpu-allow-growth"], 0.3, False),  # 30 % at the start
}


@pytest.fixture
def sessions(monkeypatch):
    """The ConfigProto of every tf.Session the code under test opens."""
    seen = []

    class Recording(tf.Session):
        def __init__(self, *args, config=None, **kwargs):
            seen.append(config)
            super().__init__(*args, config=config, **kwargs)

    monkeypatch.setattr(tf, "Session", Recording)
    return seen


@pytest.mark.parametrize("case", list(MEMORY_FLAGS))
def test_gpu_flags_reach_the_training_and_the_generate_session(tmp_path, tiny_mnist, sessions, case):
    extra, fraction, growth = MEMORY_FLAGS[case]
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--epochs", "1", "--steps-per-epoch", "2", *extra]
    assert run_main(gan_fc, argv) == 0
    assert run_main(gan_fc, ["--out-dir", out, "--generate", "4", "--to", tmp_path / "g.npz", *extra]) == 0
    assert len(sessions) == 2
    for config in sessions:
        assert config.gpu_options.per_process_gpu_memory_fraction == pytest.approx(fraction)
        assert config.gpu_options.allow_growth == growth
        assert config.allow_soft_placement
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["gpu_memory_fraction"] == (fraction or None) and recorded["gpu_allow_growth"] == growth


def test_sessions_without_gpu_flags_grow_on_demand():
    """The classifier's and the benchmark's sessions: the same default as the scripts'."""
    config = session_config(intra_op_threads=1)
    assert config.gpu_options.allow_growth and config.gpu_options.per_process_gpu_memory_fraction == 0
