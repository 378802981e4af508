"""The evaluation classifier and evaluate.py, with a tiny classifier (1 epoch on 2,000 images)."""

import json
import shutil

import numpy as np
import pytest
from helpers import TINY, max_abs_diff, read_history, run_main, weights

import evaluate
import gan_cdcgan
import gan_dcgan
import gan_fc
from common import classifier, data, flags, guards, metrics, quality, runs, sampling, settings


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifiers")
    accuracy = classifier.train("mnist", root=root, epochs=1, limit=2000, log=lambda line: None)
    assert 0.5 < accuracy < 1.0
    return root


@pytest.fixture
def tiny_classifier(tiny_classifier_dir, monkeypatch):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    loaded = classifier.load("mnist")
    yield loaded
    loaded.close()


def test_classifier_records_how_it_was_made(tiny_classifier):
    info = tiny_classifier.info
    assert info["made_by"] == "python -m common.classifier --dataset mnist"
    assert info["train_images"] == 2000 and info["epochs"] == 1 and info["seed"] == classifier.SEED


def test_conditional_accuracy_of_real_labelled_images_is_the_classifier_accuracy(tiny_classifier):
    test_x, test_y = data.load("mnist", "test")
    probs, features = tiny_classifier.predict(data.to_unit_range(test_x))
    assert probs.shape == (10000, 10) and features.shape == (10000, 1024)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    overall, per_class, _ = metrics.conditional_accuracy(probs, test_y)
    assert overall == pytest.approx(tiny_classifier.info["test_accuracy"], abs=1e-12)
    assert len(per_class) == 10


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, tiny_mnist_files):
    folder, spec = tiny_mnist_files
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(data.DATASETS, "mnist", spec)
        for module, name in ((gan_fc, "gan_fc"), (gan_dcgan, "gan_dcgan"), (gan_cdcgan, "gan_cdcgan")):
            argv = [*TINY[name], "--data-dir", folder, "--out-dir", root / name, "--epochs", "1", "--steps-per-epoch", "3"]
            assert run_main(module, argv) == 0
    return root


def test_evaluate_writes_metrics_and_prints_a_table(tiny_runs, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys):
    """The runs were trained with --data-dir: their reference is that folder's test split too."""
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    folders = [str(tiny_runs / name) for name in ("gan_fc", "gan_dcgan", "gan_cdcgan")]
    rows = evaluate.main([*folders, "--samples", "500", "--real"])
    table = capsys.readouterr().out
    assert "real (mnist test set)" in table and "gan_fc/" in table and "gan_dcgan/" in table and "gan_cdcgan/" in table
    real, fc, dc, cdc = rows
    test_x, test_y = data.load("mnist", "test", tiny_mnist)
    loaded = classifier.load("mnist")
    probs, test_features = loaded.predict(data.to_unit_range(test_x))
    assert real["classifier_test_accuracy"] == pytest.approx(np.mean(probs.argmax(1) == test_y))
    assert real["score"] == pytest.approx(metrics.classifier_score(probs)) and real["fd"] > 0
    (real_line,) = [line for line in table.splitlines() if line.startswith("real (")]
    assert " FD/F0 precision recall " in table and f"{real['precision']:9.3f} {real['recall']:6.3f}" in real_line
    assert 0.5 < real["precision"] <= 1 and 0.5 < real["recall"] <= 1  # real digits against real digits
    for row, run, module in ((fc, "gan_fc", gan_fc), (dc, "gan_dcgan", gan_dcgan), (cdc, "gan_cdcgan", gan_cdcgan)):
        saved = json.loads((tiny_runs / run / "metrics.json").read_text())
        assert saved["samples"] == 500 and saved["checkpoint"] == "ckpt-3"
        assert saved["fd"] > real["fd"]  # 3 steps of training: far from real
        # the same 500 images, drawn by --generate (same stream, same chunks) and judged here
        npz = tiny_runs / f"{run}.npz"
        assert run_main(module, ["--out-dir", tiny_runs / run, "--generate", "500", "--to", npz]) == 0
        generated_probs, generated_features = loaded.predict(np.load(npz)["images"])
        assert saved["score"] == pytest.approx(metrics.classifier_score(generated_probs))
        # the cached test features and radii give what the features computed afresh give, exactly
        assert (saved["precision"], saved["recall"]) == metrics.precision_recall(test_features, generated_features)
        assert f"{saved['precision']:9.3f} {saved['recall']:6.3f}" in table
        assert saved["histogram"] == pytest.approx(metrics.class_histogram(generated_probs))
        assert sum(saved["histogram"]) == pytest.approx(1.0)
        assert saved == json.loads(json.dumps(row))
    assert "conditional" not in fc and "conditional" not in dc
    assert len(cdc["conditional"]["per_class"]) == 10 and 0 <= cdc["conditional"]["accuracy"] <= 1


def test_evaluate_draws_a_run_at_another_temperature_without_recording_it(
    tiny_runs, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys
):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    run = tiny_runs / "gan_dcgan"
    as_run = evaluate.main([str(run), "--samples", "100"])[0]
    recorded = (run / "metrics.json").read_text()
    colder = evaluate.main([str(run), "--samples", "100", "--z-temperature", "0.5"])[0]
    assert colder["run"].endswith("(T 0.5)") and colder["fd"] != as_run["fd"]
    assert (run / "metrics.json").read_text() == recorded  # metrics.json keeps the run as it draws
    fc = tiny_runs / "gan_fc"
    fc_as_run = evaluate.main([str(fc), "--samples", "100"])[0]
    fc_colder = evaluate.main([str(fc), "--samples", "100", "--z-temperature", "0.5"])[0]  # the FC's cube and modes too
    assert fc_colder["run"].endswith("(T 0.5)") and fc_colder["fd"] != fc_as_run["fd"]


def test_evaluate_draws_a_row_per_temperature_of_a_list_and_records_none(
    tiny_runs, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys
):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    run = tiny_runs / "gan_dcgan"
    evaluate.main([str(run), "--samples", "100"])
    recorded = (run / "metrics.json").read_text()
    capsys.readouterr()
    rows = evaluate.main([str(run), "--samples", "100", "--z-temperature", "0.5,1.5"])
    table = capsys.readouterr().out
    assert [row["run"][-7:] for row in rows] == ["(T 0.5)", "(T 1.5)"]
    assert rows[0] == evaluate.main([str(run), "--samples", "100", "--z-temperature", "0.5"])[0]  # each row as if alone
    assert rows[0]["fd"] != rows[1]["fd"] and all("precision" in row and "recall" in row for row in rows)
    assert "differ" not in table  # one run, drawn twice
    assert (run / "metrics.json").read_text() == recorded
    for bad, words in (("0.5,x", "'x' is not a number > 0"), ("0.5,", "'' is not a number > 0"), ("1,0.5,1", "1 given twice")):
        with pytest.raises(SystemExit) as e:
            evaluate.main([str(run), "--z-temperature", bad])
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and err.count("\n") == 0 and words in err, err


def test_evaluate_draws_more_sets_of_images_and_keeps_the_first_as_the_row(
    tiny_runs, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys
):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    run = tiny_runs / "gan_dcgan"
    one = evaluate.main([str(run), "--samples", "100"])[0]
    capsys.readouterr()
    three = evaluate.main([str(run), "--samples", "100", "--draws", "3"])[0]
    table = capsys.readouterr().out
    draws = three.pop("draws")
    assert three == one  # the row is the one-draw evaluation's, to the last digit
    assert len(draws) == 3 and draws[0]["fd"] == one["fd"] and draws[0]["score"] == one["score"]
    assert len({d["fd"] for d in draws}) == 3  # three different sets of images
    fds = [d["fd"] for d in draws]
    assert "3 draws of 100: " in table and f"FD {min(fds):.2f}–{max(fds):.2f}" in table, table
    recalls = [d["recall"] for d in draws]
    assert f"recall {min(recalls):.3f}–{max(recalls):.3f}" in table, table
    assert len(json.loads((run / "metrics.json").read_text())["draws"]) == 3


def test_evaluate_draws_give_the_conditional_accuracy_range_with_the_worst_digit(
    tiny_runs, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys
):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    row = evaluate.main([str(tiny_runs / "gan_cdcgan"), "--samples", "100", "--draws", "2"])[0]
    table = capsys.readouterr().out
    accuracies = [d["conditional"]["accuracy"] for d in row["draws"]]
    worst = [min(d["conditional"]["per_class"]) for d in row["draws"]]
    expected = f"accuracy {min(accuracies):.2%}–{max(accuracies):.2%} (worst digit {min(worst):.1%}–{max(worst):.1%})"
    assert expected in table.splitlines()[-1], table


def test_a_later_draw_continues_the_noise_stream_where_the_first_ends(tiny_runs):
    """Draw d of n images is chunks d·⌈n/CHUNK⌉ on of the one GENERATE stream: never draw 0's noise."""
    run = runs.RunFolder(tiny_runs / "gan_dcgan")
    args = flags.parse("gan_dcgan", gan_dcgan.HPARAMS, [], conditional=False)
    settings.use_run_settings(args, run, "gan_dcgan")
    n = 2 * sampling.CHUNK  # two chunks a draw: draw 1 starts at chunk 2, not 1
    stream, _ = sampling.generate_images(args, gan_dcgan.MODEL, run, 2 * n)
    one, _ = sampling.generate_images(args, gan_dcgan.MODEL, run, n)
    two, _ = sampling.generate_images(args, gan_dcgan.MODEL, run, n, draws=2)
    np.testing.assert_array_equal(two, stream)
    np.testing.assert_array_equal(two[:n], one)
    assert not np.allclose(two[n:], one, atol=1e-3)


def test_precision_and_recall_are_the_same_from_the_cache_and_training_does_not_compute_them(
    tiny_classifier_dir, tiny_mnist, tmp_path, monkeypatch
):
    """The test set's radii are computed when first asked for and then cached with the rest; the
    features they are measured against are cached from the start (float32, as the classifier gives them)."""
    shutil.copytree(tiny_classifier_dir / "mnist", tmp_path / "mnist", ignore=shutil.ignore_patterns("reference-*"))
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tmp_path)
    images = data.to_unit_range(data.load("mnist", "train", tiny_mnist)[0][:300])
    computed = quality.Reference("mnist", tiny_mnist)
    assert "precision" not in computed.measure(images)  # what the in-training evaluation asks
    (cache,) = (tmp_path / "mnist").glob("reference-*.npz")
    with np.load(cache) as cached:
        assert quality.RADII not in cached.files and cached["test_features"].dtype == np.float32
    fresh = computed.measure(images, precision_recall=True)
    assert 0 < fresh["precision"] <= 1 and 0 < fresh["recall"] <= 1
    with np.load(cache) as cached:
        radii = cached[quality.RADII]
    read = quality.Reference("mnist", tiny_mnist)
    assert json.dumps(read.measure(images, precision_recall=True)) == json.dumps(fresh)
    np.testing.assert_array_equal(read.test_radii(), radii)


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(tmp_path)])
    assert e.value.code == 2 and "is not a run folder" in capsys.readouterr().err


def _train_with_eval(out, data_dir, *extra):
    argv = [
        *TINY["gan_fc"],
        "--eval-every",
        "1",
        "--data-dir",
        data_dir,
        "--out-dir",
        out,
        "--steps-per-epoch",
        "10",
        "--epochs",
        "3",
    ]
    return run_main(gan_fc, [*argv, *extra])


def test_training_evaluates_each_epoch_and_keeps_the_best_checkpoint(
    tmp_path, tiny_mnist, tiny_classifier_dir, monkeypatch, capsys
):
    from common.tfcompat import tf

    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    out = tmp_path / "run"
    assert _train_with_eval(out, tiny_mnist) == 0
    printed = capsys.readouterr().out
    assert printed.count("  score ") == 3 and printed.count("  FD ") == 3

    rows = read_history(out)
    assert rows[0][-2:] == ["score", "fd"]
    evaluated = [r for r in rows[1:] if r[-1]]
    assert [int(r[0]) for r in evaluated] == [10, 20, 30]
    assert all(r[-1] == r[-2] == "" for r in rows[1:] if int(r[0]) % 10)
    fds = [float(r[-1]) for r in evaluated]
    best = json.loads((out / "checkpoints" / "best" / "best.json").read_text())
    assert best["fd"] == pytest.approx(min(fds), rel=1e-5) and best["step"] == 10 * (1 + int(np.argmin(fds)))
    assert [p.name for p in (out / "checkpoints" / "best").glob("*.index")] == [f"ckpt-{best['step']}.index"]
    kept = list((out / "checkpoints" / "best").glob("ckpt-*"))  # links to the epoch's own files, not a second save
    assert len(kept) == 2 and all(p.samefile(out / "checkpoints" / p.name) for p in kept)

    events = next((out / "logs").glob("events.out.tfevents.*"))
    tags = {v.tag for e in tf.train.summary_iterator(str(events)) for v in e.summary.value}
    assert {"score", "fd"} <= tags

    target = tmp_path / "best.npz"
    assert run_main(gan_fc, ["--out-dir", out, "--generate", "8", "--checkpoint", "best", "--to", target]) == 0
    assert f"from ckpt-{best['step']}" in capsys.readouterr().out
    assert np.load(target)["images"].shape == (8, 28, 28, 1)

    # evaluate.py keeps the numbers of the latest and of the best checkpoint side by side
    evaluate.main([str(out), "--samples", "200"])
    evaluate.main([str(out), "--samples", "200", "--checkpoint", "best"])
    assert json.loads((out / "metrics.json").read_text())["checkpoint"] == "ckpt-30"
    assert json.loads((out / "metrics-best.json").read_text())["checkpoint"] == f"ckpt-{best['step']}"


@pytest.mark.parametrize("stop_at", [15, 20])  # mid-epoch, and an epoch's last step (its evaluation happens on resume)
def test_evaluation_does_not_disturb_exact_resume(tmp_path, tiny_mnist, tiny_classifier_dir, monkeypatch, stop_at):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_classifier_dir)
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert _train_with_eval(straight, tiny_mnist) == 0
    with monkeypatch.context() as mp:
        mp.setenv(guards.FAULT_ENV, f"sigint@{stop_at}")
        assert _train_with_eval(interrupted, tiny_mnist, "--steps-per-run", "5") == 130  # stops at stop_at
    assert _train_with_eval(interrupted, tiny_mnist) == 0
    assert read_history(interrupted) == read_history(straight)  # the evaluations too
    assert max_abs_diff(weights(straight), weights(interrupted)) == 0
    assert (straight / "checkpoints/best/best.json").read_text() == (interrupted / "checkpoints/best/best.json").read_text()


def test_best_checkpoint_of_a_run_without_evaluation(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    assert (
        run_main(gan_fc, [*TINY["gan_fc"], "--data-dir", tiny_mnist, "--out-dir", out, "--epochs", "1", "--steps-per-epoch", "2"])
        == 0
    )
    assert run_main(gan_fc, ["--out-dir", out, "--generate", "4", "--checkpoint", "best"]) == 2
    assert "no best checkpoint" in capsys.readouterr().err


def test_the_table_names_the_settings_in_which_the_runs_differ():
    def config(hparams):
        return {"script": "gan_fc", "dataset": "mnist", "hparams": {"seed": 0, "epochs": 60, **hparams}}

    def row(name):
        return {"run": name, "checkpoint": "ckpt-9", "score": (9.0, 0.1), "fd": 20.0, "histogram": [0.1] * 10}

    configs = [config({"d_hidden": 256}), config({"d_hidden": 128})]
    table = evaluate.format_table([row("gan_fc/a"), row("gan_fc/b")], configs=configs)
    lines = table.splitlines()
    assert lines[0] == "the runs differ in: d_hidden 256 → 128"
    assert lines[-2].endswith("d_hidden 256") and lines[-1].endswith("d_hidden 128")
    alone = evaluate.format_table([row("gan_fc/a")], configs=configs[:1])
    assert "differ" not in alone
    # two runs at two temperatures each: a row per temperature, each with its run's settings
    rows = [row(f"gan_fc/{name} (T {t})") for name in "ab" for t in (0.9, 1)]
    lines = evaluate.format_table(rows, configs=[configs[0], configs[0], configs[1], configs[1]]).splitlines()
    assert lines[0] == "the runs differ in: d_hidden 256 → 128"
    assert [line.split()[-1] for line in lines[3:]] == ["256", "256", "128", "128"]


def cut_short(folder):
    data_file = folder / "classifier.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:1000])
    return "classifier.data-00000-of-00001 is damaged"


def changed_index(folder):
    index = folder / "classifier.index"
    index.write_bytes(index.read_bytes()[:-1] + b"\0")
    return "classifier.index is damaged"


def info_not_json(folder):
    (folder / "info.json").write_text('{"dataset": "mn')
    return "info.json is missing or damaged"


def info_a_list(folder):
    (folder / "info.json").write_text("[1, 2]")
    return "info.json is missing or damaged"


def data_file_gone(folder):
    (folder / "classifier.data-00000-of-00001").unlink()
    return "classifier.data-00000-of-00001 is damaged or missing"


@pytest.mark.parametrize("damage", [cut_short, changed_index, info_not_json, info_a_list, data_file_gone])
def test_a_damaged_classifier_is_named_with_its_fix(tiny_classifier_dir, tmp_path, monkeypatch, capsys, damage):
    """The classifier's files are checked against the checksums its info.json records (the shipped
    ones too), before TensorFlow reads them: one line, exit 2, the fix named."""
    root = tmp_path / "classifiers"
    shutil.copytree(tiny_classifier_dir, root)
    words = damage(root / "mnist")
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", root)
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--real", "--samples", "10"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and words in err and "git checkout" in err, err


def test_the_shipped_classifiers_match_their_checksums():
    for dataset in ("mnist", "fashion_mnist"):
        assert classifier.verified_info(classifier.checkpoint_path(dataset))["sha256"]
