"""The evaluation classifier and evaluate.py, with a tiny classifier (1 epoch on 2,000 images)."""

import json

import numpy as np
import pytest
from conftest import TINY, run_main

import evaluate
import gan_cdcgan
import gan_fc
from common import classifier, data, metrics


@pytest.fixture(scope="module")
def tiny_judge_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("classifiers")
    accuracy = classifier.train("mnist", root=root, epochs=1, limit=2000, log=lambda line: None)
    assert 0.5 < accuracy < 1.0
    return root


@pytest.fixture
def tiny_judge(tiny_judge_dir, monkeypatch):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_judge_dir)
    judge = classifier.load("mnist")
    yield judge
    judge.close()


def test_classifier_records_how_it_was_made(tiny_judge):
    info = tiny_judge.info
    assert info["made_by"] == "python -m common.classifier --dataset mnist"
    assert info["train_images"] == 2000 and info["epochs"] == 1 and info["seed"] == classifier.SEED


def test_conditional_accuracy_of_real_labelled_images_is_the_classifier_accuracy(tiny_judge):
    test_x, test_y = data.load("mnist", "test")
    probs, features = tiny_judge(data.to_unit_range(test_x))
    assert probs.shape == (10000, 10) and features.shape == (10000, 1024)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    overall, per_class, _ = metrics.conditional_accuracy(probs, test_y)
    assert overall == pytest.approx(tiny_judge.info["test_accuracy"], abs=1e-12)
    assert len(per_class) == 10


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, tiny_mnist_files):
    folder, spec = tiny_mnist_files
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(data.DATASETS, "mnist", spec)
        for module, name in ((gan_fc, "gan_fc"), (gan_cdcgan, "gan_cdcgan")):
            argv = [*TINY[name], "--data-dir", folder, "--out-dir", root / name, "--epochs", "1", "--steps-per-epoch", "3"]
            assert run_main(module, argv) == 0
    return root


def test_evaluate_writes_metrics_and_prints_a_table(tiny_runs, tiny_judge_dir, monkeypatch, capsys):
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tiny_judge_dir)
    rows = evaluate.main([str(tiny_runs / "gan_fc"), str(tiny_runs / "gan_cdcgan"), "--samples", "500", "--real"])
    table = capsys.readouterr().out
    assert "real (mnist test set)" in table and "gan_fc/" in table and "gan_cdcgan/" in table
    real, fc, cdc = rows
    assert real["classifier_test_accuracy"] == pytest.approx(classifier.load("mnist").info["test_accuracy"])
    assert real["fd"] > 0 and 1 <= real["score"][0] <= 10
    for row, run in ((fc, "gan_fc"), (cdc, "gan_cdcgan")):
        saved = json.loads((tiny_runs / run / "metrics.json").read_text())
        assert saved["samples"] == 500 and saved["checkpoint"] == "ckpt-3"
        assert 1 <= saved["score"][0] <= 10 and saved["fd"] > real["fd"]  # 3 steps of training: far from real
        assert sum(saved["histogram"]) == pytest.approx(1.0)
        assert saved == json.loads(json.dumps(row))
    assert "conditional" not in fc
    assert len(cdc["conditional"]["per_class"]) == 10 and 0 <= cdc["conditional"]["accuracy"] <= 1


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(tmp_path)])
    assert e.value.code == 2 and "is not a run folder" in capsys.readouterr().err
