"""compare.py on hand-made run folders: which grid, which numbers, the picture and the tables."""

import json

import numpy as np
import pytest
from PIL import Image

import compare
from common import images


def evaluation(checkpoint, fd=12.5, score=9.1):
    """What evaluate.py writes for one checkpoint (10,000 samples)."""
    return {"score": [score, 0.1], "fd": fd, "samples": 10000, "checkpoint": checkpoint}


def make_run(root, name, fds, metrics=None, script="gan_dcgan", hparams=None):
    run = root / script / name
    (run / "samples").mkdir(parents=True)
    config = {
        "script": script,
        "hparams": hparams or {"lr": 2e-4},
        "dataset": "mnist",
        "steps_per_epoch": None,
        "effective_steps_per_epoch": 10,
    }
    (run / "config.json").write_text(json.dumps(config))
    lines = ["step,epoch,d_loss,g_loss,d_real,d_fake,score,fd"]
    for epoch, fd in enumerate(fds, start=1):
        shade = epoch / len(fds) * 2 - 1
        images.save_png(run / "samples" / f"epoch_{epoch:04d}.png", images.grid(np.full((4, 28, 28), shade)))
        lines += [f"{step},{epoch},1,1,0.5,0.5,," for step in range(epoch * 10 - 9, epoch * 10)]
        lines.append(f"{epoch * 10},{epoch},1,1,0.5,0.5,{5 + epoch},{fd}")
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    if metrics:
        (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_latest_grids_with_evaluate_numbers_when_present(tmp_path, capsys):
    a = make_run(tmp_path, "lr2e-4_b128_aaaaaa", [50.0, 30.0, 40.0], metrics=evaluation("ckpt-30"))
    b = make_run(tmp_path, "lr1e-4_b256_bbbbbb", [80.0, 60.0])
    (a.parent / "latest").symlink_to(a.name)
    out = tmp_path / "cmp.png"
    rows = compare.main([str(a), str(b), str(a.parent / "latest"), "--out", str(out), "--curves"])
    assert [r["name"] for r in rows] == ["gan_dcgan/lr2e-4_b128_aaaaaa", "gan_dcgan/lr1e-4_b256_bbbbbb"]  # latest deduplicated
    assert rows[0]["epoch"] == 3 and rows[0]["fd"] == 12.5 and rows[0]["source"] == "evaluate.py, 10k samples"
    assert rows[1]["epoch"] == 2 and rows[1]["fd"] == 60.0 and rows[1]["score"] == 7.0 and "training" in rows[1]["source"]
    with Image.open(out) as im:
        assert im.size[0] >= 2 * 300
    markdown = out.with_suffix(".md").read_text()
    assert (
        markdown.startswith("| run | epoch | score | FD |") and "| gan_dcgan/lr2e-4_b128_aaaaaa | 3 | 9.10 | 12.50 |" in markdown
    )
    printed = capsys.readouterr().out
    assert "lr1e-4_b256_bbbbbb" in printed and "60.00" in printed


def test_the_settings_in_which_runs_differ_are_named_in_the_table_and_the_titles(tmp_path, capsys):
    a = make_run(tmp_path, "defaults_aaaaaa", [50.0], hparams={"lr": 8e-4, "d_filters": 48, "seed": 0, "epochs": 60})
    b = make_run(tmp_path, "d-filters64_bbbbbb", [40.0], hparams={"lr": 8e-4, "d_filters": 64, "seed": 0, "epochs": 30})
    out = tmp_path / "cmp.png"
    rows = compare.main([str(a), str(b), "--out", str(out)])
    assert [r["settings"] for r in rows] == ["d_filters 48", "d_filters 64"]  # not the epochs: they shape no result
    printed = capsys.readouterr().out
    assert "the runs differ in: d_filters 48 → 64" in printed
    assert "| d_filters 64 |" in out.with_suffix(".md").read_text()


def test_best_shows_the_epoch_with_the_lowest_training_fd(tmp_path):
    a = make_run(tmp_path, "run_a", [50.0, 30.0, 40.0], metrics=evaluation("ckpt-30"))
    rows = compare.main([str(a), "--checkpoint", "best", "--out", str(tmp_path / "best.png")])
    assert rows[0]["epoch"] == 2 and rows[0]["fd"] == 30.0 and rows[0]["grid"].name == "epoch_0002.png"
    # evaluate.py --checkpoint best wrote its own file beside the latest one's
    (a / "metrics-best.json").write_text(json.dumps(evaluation("ckpt-20", fd=11.0, score=9.3)))
    rows = compare.main([str(a), "--checkpoint", "best", "--out", str(tmp_path / "best.png")])
    assert rows[0]["epoch"] == 2 and rows[0]["fd"] == 11.0 and rows[0]["source"] == "evaluate.py, 10k samples"
    assert compare.main([str(a), "--out", str(tmp_path / "latest.png")])[0]["fd"] == 12.5


def test_evaluate_numbers_of_an_older_checkpoint_are_not_shown_beside_a_newer_grid(tmp_path):
    a = make_run(tmp_path, "run_a", [50.0, 30.0, 40.0], metrics=evaluation("ckpt-20"))
    rows = compare.main([str(a), "--out", str(tmp_path / "x.png")])
    assert rows[0]["epoch"] == 3 and rows[0]["fd"] == 40.0 and "training" in rows[0]["source"]


def test_folders_that_are_not_runs(tmp_path, capsys):
    (tmp_path / "stray").mkdir()
    with pytest.raises(SystemExit) as e:
        compare.main([str(tmp_path / "stray")])
    assert e.value.code == 2 and "none of these is a run folder" in capsys.readouterr().err


def test_a_run_without_grids_is_a_clear_error(tmp_path, capsys):
    run = make_run(tmp_path, "empty", [])
    with pytest.raises(SystemExit) as e:
        compare.main([str(run), "--out", str(tmp_path / "x.png")])
    assert e.value.code == 2 and "has no sample grids yet" in capsys.readouterr().err


def test_epochs_lays_out_one_row_per_epoch_with_that_epochs_numbers(tmp_path, capsys):
    a = make_run(tmp_path, "run_a", [50.0, 30.0, 40.0])
    b = make_run(tmp_path, "run_b", [80.0, 60.0])
    out = tmp_path / "epochs.png"
    rows = compare.main([str(a), str(b), "--epochs", "1,3,last", "--out", str(out)])
    cells = [(r["name"].split("/")[1], r["epoch"], r["fd"], r["grid"].name if r["grid"] else None) for r in rows]
    assert cells[:4] == [
        ("run_a", 1, 50.0, "epoch_0001.png"),
        ("run_b", 1, 80.0, "epoch_0001.png"),
        ("run_a", 3, 40.0, "epoch_0003.png"),
        ("run_b", 3, cells[3][2], None),  # run_b stopped at epoch 2: an empty cell, not another epoch's grid
    ]
    assert np.isnan(cells[3][2])
    assert cells[4:] == [("run_a", 3, 40.0, "epoch_0003.png"), ("run_b", 2, 60.0, "epoch_0002.png")]  # last
    single = tmp_path / "single.png"
    compare.main([str(a), str(b), "--out", str(single)])
    with Image.open(out) as three_rows, Image.open(single) as one_row:
        assert three_rows.size[0] == one_row.size[0] and three_rows.size[1] > 2.5 * one_row.size[1]


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--epochs", "1,x"], ["--epochs", "2", "--checkpoint", "best"]])
def test_epochs_that_cannot_be_shown_are_refused(tmp_path, capsys, argv):
    a = make_run(tmp_path, "run_a", [50.0, 30.0])
    with pytest.raises(SystemExit) as e:
        compare.main([str(a), *argv, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--epochs" in err
