"""bench.py works end to end (2 steps, small sizes); its figures are for people, not for asserts."""

import json

import bench
from benchmarks import counts

ARGV = ["--steps", "2", "--steps-per-run", "2", "--repeats", "1", "--warmup", "0", "--peak-size", "256", "--batch-size", "8"]


def test_bench_runs_every_model_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main([*ARGV, "--epoch-end", "0", "--json", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith("device: CPU") and printed.splitlines()[1].startswith("machine: ") and "matmul peak" in printed
    results = json.loads(out.read_text())
    assert results["matmul_peak_gflops"] > 0 and results["machine"]["device"]
    assert set(results["host_s_per_step"]) == {"1", "2"} and all(v > 0 for v in results["host_s_per_step"].values())
    assert set(results["models"]) == {"fc", "dcgan", "cdcgan"}
    for name, row in results["models"].items():
        assert row["batch_size"] == 8
        assert row["images_per_s"] > 0 and row["classic_style_images_per_s"] > 0 and row["peak_rss_mib"] > 0
        assert 0 <= row["share_outside_step"] < 1 and row["epoch_end"] == {}
        assert row["kernels_per_step"] > 10 and 0 < row["gpu_projection"]["share_outside_step"] < 1
        assert name in printed


def test_bench_times_an_epoch_s_end_with_and_without_the_evaluation(tmp_path, capsys, monkeypatch):
    """One model: the epoch's end is the loop's own, the same for the three (their tests train it)."""
    from common import history

    monkeypatch.setattr(history, "EVAL_SAMPLES", 200)  # the classifier's cost, not what is tested
    out = tmp_path / "bench.json"
    bench.main([*ARGV, "--model", "fc", "--no-classic-style", "--epoch-end", "2", "--json", str(out)])
    row = json.loads(out.read_text())["models"]["fc"]
    assert set(row["epoch_end"]) == {"2_no_eval", "2_eval"}
    assert row["epoch_end"]["2_eval"]["device_flops"] > row["epoch_end"]["2_no_eval"]["device_flops"] > 0
    assert "epoch end, host work at 2 epochs of history" in capsys.readouterr().out


def test_step_flops_counts_a_matmul_exactly():
    from common.tfcompat import tf

    with tf.Graph().as_default() as graph:
        a, b = tf.ones([8, 16]), tf.ones([16, 4])
        product = tf.matmul(a, b)
        assert counts.step_flops(graph, [product]) == 2 * 8 * 16 * 4


def test_step_flops_counts_convolutions_and_their_gradients_like_the_forward_pass():
    """A 7x7 VALID layer on a 1x1 map (cDCGAN's first), forward and both gradients: each is
    batch · 7·7 output positions · 110 inputs · 256 filters multiply-adds."""
    from common.tfcompat import tf

    with tf.Graph().as_default() as graph:
        z = tf.ones([4, 1, 1, 110])
        w = tf.ones([7, 7, 256, 110])
        up = tf.nn.conv2d_transpose(z, w, [4, 7, 7, 256], strides=[1, 1, 1, 1], padding="VALID")
        dz, dw = tf.gradients(tf.reduce_sum(up), [z, w])
        macs = 4 * 7 * 7 * 110 * 256
        # d sum/d up is a tensor of ones, so neither gradient needs `up` itself: each is one op.
        assert counts.step_flops(graph, [up]) == 2 * macs  # Conv2DBackpropInput
        assert counts.step_flops(graph, [dw]) == 2 * macs  # Conv2DBackpropFilter
        assert counts.step_flops(graph, [dz]) == 2 * macs  # Conv2D


def test_conv_flops_leave_out_the_padding():
    """5x5 SAME on a 7x7 map: along each axis 3+4+5+5+5+4+3 = 29 of the 35 taps meet real input."""
    from common.tfcompat import tf

    with tf.Graph().as_default() as graph:
        y = tf.nn.conv2d(tf.ones([2, 7, 7, 3]), tf.ones([5, 5, 3, 8]), strides=[1, 1, 1, 1], padding="SAME")
        assert counts.step_flops(graph, [y]) == 2 * 2 * 29 * 29 * 3 * 8
        strided = tf.nn.conv2d(tf.ones([1, 28, 28, 1]), tf.ones([5, 5, 1, 4]), strides=[1, 2, 2, 1], padding="SAME")
        # 14 outputs per axis at input rows 2o-1 .. 2o+3 (pad 1 before): the first loses one tap, the last loses two.
        assert counts.step_flops(graph, [strided]) == 2 * (70 - 3) ** 2 * 4


HLO = """HloModule cluster_3__XlaCompiledKernel_true, entry_computation_layout={(f32[4]{0})->f32[4]{0}}

%fused_computation (param_0: f32[4]) -> f32[4] {
  %param_0 = f32[4]{0} parameter(0)
  ROOT %negate.1 = f32[4]{0} negate(f32[4]{0} %param_0)
}

ENTRY %cluster_3 (arg0.1: f32[4], arg1.2: f32[2,2]) -> (f32[4], f32[2,2]) {
  %arg0.1 = f32[4]{0} parameter(0)
  %arg1.2 = f32[2,2]{1,0} parameter(1)
  %constant.3 = f32[] constant(2)
  %fusion = f32[4]{0} fusion(f32[4]{0} %arg0.1), kind=kLoop, calls=%fused_computation
  %dot.4 = f32[2,2]{1,0} dot(f32[2,2]{1,0} %arg1.2, f32[2,2]{1,0} %arg1.2), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  %copy.5 = f32[2,2]{0,1} copy(f32[2,2]{1,0} %dot.4)
  %bitcast.6 = f32[2,2]{1,0} bitcast(f32[2,2]{0,1} %copy.5)
  ROOT %tuple.7 = (f32[4]{0}, f32[2,2]{1,0}) tuple(f32[4]{0} %fusion, f32[2,2]{1,0} %bitcast.6)
}
"""


def test_a_compiled_cluster_counts_its_entry_kernels_not_its_fused_ops():
    """A fusion, a dot and a copy are three launches; what a fusion computes inside, the parameters,
    the constant, the bitcast and the tuple are none."""
    from benchmarks import xla

    assert xla.module_kernels(HLO) == 3


def test_a_traced_cluster_is_its_module_s_kernels_and_its_host_side_ops_none():
    from benchmarks import xla

    clusters = {"cluster_3": 3}
    assert xla.traced_kernels("cluster_3_1/xla_run", "_XlaRun", clusters) == 3
    assert xla.traced_kernels("cluster_3_1/xla_compile", "_XlaCompile", clusters) == 0
    assert xla.traced_kernels("cluster_3_1/merge_oidx_0", "_XlaMerge", clusters) == 0
    assert xla.traced_kernels("generator/fc1/MatMul", "MatMul", clusters) is None
