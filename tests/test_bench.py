"""bench.py works end to end (2 steps, small sizes); its figures are for people, not for asserts."""

import json

import bench


def test_bench_runs_every_model_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--steps", "2", "--repeats", "1", "--warmup", "0", "--peak-size", "256", "--batch-size", "8", "--json", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith("machine: ") and "matmul peak" in printed
    results = json.loads(out.read_text())
    assert results["matmul_peak_gflops"] > 0 and results["machine"]["device"]
    assert set(results["models"]) == {"fc", "dcgan", "cdcgan"}
    for name, row in results["models"].items():
        assert row["batch_size"] == 8
        assert row["images_per_s"] > 0 and row["seed_style_images_per_s"] > 0 and row["peak_rss_mib"] > 0
        assert 0 <= row["share_outside_step"] < 1
        assert name in printed


def test_step_flops_counts_a_matmul_exactly():
    from common.tfcompat import tf

    with tf.Graph().as_default() as graph:
        a, b = tf.ones([8, 16]), tf.ones([16, 4])
        product = tf.matmul(a, b)
        assert bench.step_flops(graph, [product]) == 2 * 8 * 16 * 4
