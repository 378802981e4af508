"""Every failure as a new user meets it, through the real entry points in a real process: one line on
stderr, the documented exit code (2 bad input, 1 a failure, 130 Ctrl-C), and every file that existed
before left as it was. Faults that need a mock (a disk that fills mid-write) run the script's main in
this process instead."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, TINY_FC, run_main, snapshot

import gan_fc
from common import checkpoints, guards, images, runs
from common.tfcompat import tf

TRAIN = [*TINY_FC, "--steps-per-epoch", "3", "--epochs", "2"]


def default_sigint():
    """In the child: Ctrl-C as a terminal delivers it. A test run started as a background job inherits
    SIGINT ignored, and Python then installs no KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(program, *argv, cwd=None, env=None, timeout=180):
    """(exit code, stderr lines, stdout) of `python program argv…`."""
    result = subprocess.run(
        [sys.executable, str(REPO / program), *map(str, argv)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=default_sigint,
    )
    return result.returncode, result.stderr.strip().splitlines(), result.stdout


def assert_one_line(code, err, expected_code, *words):
    assert code == expected_code, err
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and all(w in err[0] for w in words), err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny gan_fc run of 2 evaluated epochs on the shipped MNIST, trained in a real process."""
    out = tmp_path_factory.mktemp("trained") / "run"
    code, err, _ = run("gan_fc.py", *TRAIN, "--eval-every", "1", "--out-dir", out)
    assert code == 0, err
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


# ------------------------------------------------------------------------------- flags (exit 2)
BAD_NUMBERS = [
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--g-hidden", "2147483647"], ["--g-hidden", "out of range", "65,536"]),  # no graph holds it (a traceback before)
    (["--lr", "inf"], ["--lr", "finite"]),
    (["--lr", "1e400"], ["--lr", "finite"]),
    (["--beta1", "nan"], ["--beta1", "finite"]),
    (["--g-average", "nan"], ["--g-average", "finite"]),
    (["--gpu-memory-fraction", "nan"], ["--gpu-memory-fraction", "finite"]),
    (["--seed", "99999999999999999999"], ["--seed", "2^63"]),
    (["--batch-size", "99999999999"], ["--batch-size", "2^31"]),
    (["--out-dir", ""], ["--out-dir", "empty"]),
    (["--out-dir", "", "--fresh"], ["--out-dir", "empty"]),
    (["--checkpoint", "best"], ["--checkpoint goes with --generate"]),
]


@pytest.mark.parametrize("argv, words", BAD_NUMBERS, ids=[" ".join(c[0]) or "empty" for c in BAD_NUMBERS])
def test_bad_values_are_refused_before_anything_is_written(tmp_path, argv, words):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "mine.txt").write_text("the user's own file")  # what `--out-dir ""` once deleted
    before = snapshot(tmp_path)
    code, err, _ = run("gan_fc.py", *argv, cwd=tmp_path)
    assert_one_line(code, err, 2, *words)
    assert snapshot(tmp_path) == before


# -------------------------------------------------------------------------- the run folder (exit 2)
def damage_history(run_dir):
    (run_dir / "history.csv").write_text("step,epoch,d_loss\n1,1,0.5\nnot a number,1,\n")
    return ["history.csv is damaged", "restore it"]


def empty_best_record(run_dir):
    (run_dir / "checkpoints" / "best" / "best.json").write_text("")
    return ["best.json is damaged", "delete the folder"]


def config_edited_by_hand(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config["hparams"]["lr"] = "fast"
    (run_dir / "config.json").write_text(json.dumps(config))
    return ["lr = 'fast'", "restore it"]


def config_cut_short(run_dir):
    (run_dir / "config.json").write_text('{"hparams": {"lr": ')
    return ["config.json is damaged", "restore it", "not --fresh"]


def data_dir_a_number(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config["data_dir"] = 7
    (run_dir / "config.json").write_text(json.dumps(config))
    return ["data_dir = 7", "restore it"]


RUN_FOLDER_CASES = [
    (damage_history, []),  # resume
    (empty_best_record, []),  # resume: named before an epoch of training is spent
    (config_cut_short, []),  # resume
    (config_edited_by_hand, ["--generate", "4"]),
    (config_cut_short, ["--generate", "4"]),
]


def test_a_config_value_only_evaluate_reads_is_checked(run_copy, capsys):
    import evaluate

    words = data_dir_a_number(run_copy)
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(run_copy), "--samples", "10"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and all(w in err for w in words), err


@pytest.mark.parametrize(
    "damage, extra", RUN_FOLDER_CASES, ids=[f"{d.__name__} {' '.join(e) or 'resume'}" for d, e in RUN_FOLDER_CASES]
)
def test_a_damaged_file_of_a_run_is_named_with_its_fix(run_copy, damage, extra):
    words = damage(run_copy)
    before = snapshot(run_copy)
    code, err, _ = run("gan_fc.py", *TRAIN, "--eval-every", "1", "--epochs", "3", "--out-dir", run_copy, *extra)
    assert_one_line(code, err, 2, *words)
    assert snapshot(run_copy) == before


def test_fresh_removes_nothing_in_a_folder_the_project_did_not_make(tmp_path):
    mine = tmp_path / "my-project"
    (mine / "logs").mkdir(parents=True)
    (mine / "logs" / "notes.txt").write_text("keep me")
    (mine / "history.csv").write_text("my own table\n")
    before = snapshot(mine)
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", mine, "--fresh")
    assert_one_line(code, err, 2, "not a run folder of this project", "nothing in it is replaced or removed")
    assert snapshot(mine) == before


# A run folder whose parts are not what their names say: refused before any training, one line, exit 2,
# and nothing changed — in the folder, or where a link of it points.
def link_to_another_folder(run_dir, elsewhere):
    (elsewhere / "ckpt-7.index").write_bytes(b"another run's")
    run_dir.mkdir()
    (run_dir / "checkpoints").symlink_to(elsewhere)
    return ["checkpoints is a link", "remove the link"]


def lock_linked_to_a_file(run_dir, elsewhere):
    (elsewhere / "thesis.txt").write_text("chapter one")
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(elsewhere / "thesis.txt")
    return [".lock is a link"]


def users_own_outputs(run_dir, elsewhere):
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "samples" / "epoch_0001.png").write_bytes(b"my drawing")
    (run_dir / "losses.png").write_bytes(b"my plot")
    return ["not a run folder of this project", "nothing in it is replaced"]


def wrong_kind(part, make_folder):
    def damage(run_dir, elsewhere):
        (run_dir / part).parent.mkdir(parents=True, exist_ok=True)
        if make_folder:
            (run_dir / part).mkdir()
        else:
            (run_dir / part).write_text("a file")
        return [f"{Path(part).name} is a {'folder' if make_folder else 'file'} where a run keeps"]

    damage.__name__ = f"{part}_a_{'folder' if make_folder else 'file'}"
    return damage


def history_a_fifo(run_dir, elsewhere):
    run_dir.mkdir()
    os.mkfifo(run_dir / "history.csv")
    return ["history.csv is a special file"]


FOREIGN_FOLDERS = [
    link_to_another_folder,
    lock_linked_to_a_file,
    users_own_outputs,
    wrong_kind("checkpoints/checkpoint", True),
    wrong_kind("checkpoints/best", False),
    wrong_kind("losses.png", True),
    wrong_kind("logs", False),
    wrong_kind(".lock", True),
    history_a_fifo,
]


@pytest.mark.parametrize("make", FOREIGN_FOLDERS, ids=[f.__name__ for f in FOREIGN_FOLDERS])
def test_a_run_folder_is_trusted_by_what_it_holds_not_by_its_names(tmp_path, make):
    run_dir, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    elsewhere.mkdir()
    words = make(run_dir, elsewhere)
    before = {name: snapshot(tmp_path / name) for name in ("run", "elsewhere")}  # (a FIFO is not read)
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", run_dir)
    assert_one_line(code, err, 2, *words)
    assert {name: snapshot(tmp_path / name) for name in ("run", "elsewhere")} == before


def test_fresh_removes_only_the_names_the_project_writes(run_copy):
    mine = [run_copy / "samples" / "epoch_1-notes.png", run_copy / "checkpoints" / "ckpt-old.txt", run_copy / "history.csv.bak"]
    for path in mine:
        path.write_text("mine")
    code, err, out = run("gan_fc.py", *TRAIN, "--out-dir", run_copy, "--fresh", "--epochs", "1", "--steps-per-epoch", "1")
    assert code == 0, err
    assert all(path.read_text() == "mine" for path in mine)


def test_a_users_file_named_latest_is_left_alone(tmp_path, capsys):
    (tmp_path / "latest").write_text("my notes")
    runs.point_latest(runs.RunFolder(tmp_path / "defaults_abc123"))
    assert (tmp_path / "latest").read_text() == "my notes" and "left as it is" in capsys.readouterr().err


def test_out_dir_that_is_a_broken_link(tmp_path):
    link = tmp_path / "runs"
    link.symlink_to(tmp_path / "gone" / "runs")
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", link)
    assert_one_line(code, err, 2, "is a link to", "does not exist")


def test_tilde_in_a_path_is_the_home_folder(tmp_path):
    code, err, _ = run(
        "gan_fc.py", *TINY_FC, "--steps-per-epoch", "2", "--epochs", "1", "--out-dir", "~/runs/a", env={"HOME": str(tmp_path)}
    )
    assert code == 0, err
    assert (tmp_path / "runs" / "a" / "config.json").exists()


def test_a_refused_architecture_leaves_config_json_alone(run_copy):
    """A folder whose config.json was lost, resumed with another width: refused by the checkpoint's
    shapes, and the original command still works afterwards."""
    (run_copy / "config.json").unlink()
    code, err, _ = run("gan_fc.py", *TRAIN, "--eval-every", "1", "--out-dir", run_copy, "--g-hidden", "48")
    assert_one_line(code, err, 2, "is of another model")
    assert not (run_copy / "config.json").exists()
    code, err, _ = run("gan_fc.py", *TRAIN, "--eval-every", "1", "--epochs", "3", "--out-dir", run_copy)
    assert code == 0, err


def test_already_trained_leaves_the_latest_link_alone(tmp_path, tiny_mnist, monkeypatch, capsys):
    """`latest` names the newest run trained, not the last one asked about."""
    monkeypatch.setattr(runs, "OUTPUTS_DIR", tmp_path / "outputs")
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2"]
    assert run_main(gan_fc, argv) == 0
    assert run_main(gan_fc, [*argv, "--lr", "1e-4"]) == 0  # the newest run
    assert run_main(gan_fc, argv) == 0  # the first again: nothing to train
    assert "already trained" in capsys.readouterr().out
    assert "_lr1e-4_" in (tmp_path / "outputs" / "gan_fc" / "latest").resolve().name


# ----------------------------------------------------------------------------------- --generate
def test_to_a_folder_or_an_unwritable_place_is_refused_before_generating(run_copy, tmp_path):
    for target, words in ((tmp_path, "is a folder"), ("/proc/digits.npz", "cannot write")):
        started = time.monotonic()
        code, err, _ = run("gan_fc.py", "--out-dir", run_copy, "--generate", "100000", "--to", target)
        assert_one_line(code, err, 2, words)
        assert time.monotonic() - started < 60  # refused before 100,000 images were drawn


@pytest.mark.parametrize("point", ["sigint-generate@0", "sigint-writing@0", "sigterm-replacing@0"])
def test_ctrl_c_or_sigterm_during_generate_keeps_an_earlier_file_whole(run_copy, tmp_path, point):
    target = tmp_path / "generated" / "digits.npz"
    code, err, _ = run("gan_fc.py", "--out-dir", run_copy, "--generate", "8", "--to", target)
    assert code == 0, err
    before = target.read_bytes()
    code, err, _ = run("gan_fc.py", "--out-dir", run_copy, "--generate", "1500", "--to", target, env={guards.FAULT_ENV: point})
    assert_one_line(code, err, *((143, "terminated") if point.startswith("sigterm") else (130, "interrupted")))
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["digits.npz"]  # no temporary file left behind


# ------------------------------------------------------------------------------------- Ctrl-C (130)
@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_while_tensorflow_loads(signum, code, word):
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "evaluate.py"), "--real", "--samples", "10"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        preexec_fn=default_sigint,
    )
    time.sleep(1.0)  # inside the imports: TensorFlow takes seconds to load
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the program finished before the signal (a fast machine)")
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [f"evaluate.py: {word}"]


@pytest.mark.parametrize(
    "kind, code, word", [("KeyboardInterrupt", 130, "interrupted"), ("errors.Terminated", 143, "terminated")]
)
def test_a_signal_python_can_only_report_still_stops_the_program(kind, code, word):
    """A Ctrl-C inside a callback of a C library's (matplotlib's drawing, say) reaches Python as an
    "Exception ignored" report, after which the program would go on and exit 0. A __del__ raising it
    is reported the same way."""
    script = (
        "import time\nfrom common import errors\n"
        f"class Callback:\n    def __del__(self):\n        raise {kind}\n"
        "Callback()\ntime.sleep(30)\nprint('went on')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == code and "went on" not in result.stdout, result
    assert result.stderr.strip().splitlines() == [f"-c: {word}"], result.stderr  # the program's name is argv[0]


BENCH_TINY = [
    "--steps",
    "1",
    "--repeats",
    "1",
    "--warmup",
    "0",
    "--epoch-end",
    "0",
    "--no-classic-style",
    "--peak-size",
    "64",
    "--batch-size",
    "8",
]
# SIGTERM outside the training loop, at each kind of moment: one line, exit 143, no temporary file, and
# every file that existed before as it was (--fresh's own removals aside).
SIGTERM_CASES = [
    ("restoring", "gan_fc.py", ["--out-dir", "{run}", *TRAIN, "--epochs", "3"]),
    ("fresh", "gan_fc.py", ["--out-dir", "{run}", *TRAIN, "--fresh"]),
    ("replacing", "evaluate.py", ["{run}", "--samples", "10"]),
    ("replacing", "compare.py", ["{run}", "--out", "{tmp}/compare.png"]),
    ("replacing", "bench.py", ["--model", "fc", *BENCH_TINY, "--json", "{tmp}/bench.json"]),
]


@pytest.mark.parametrize("point, program, argv", SIGTERM_CASES, ids=[f"{c[1]}-{c[0]}" for c in SIGTERM_CASES])
def test_sigterm_outside_the_training_loop(run_copy, tmp_path, point, program, argv):
    before = snapshot(run_copy)
    argv = [a.format(run=run_copy, tmp=tmp_path) if isinstance(a, str) else a for a in argv]
    code, err, _ = run(program, *argv, env={guards.FAULT_ENV: f"sigterm-{point}@0"})
    assert_one_line(code, err, 143, f"{program}: terminated")
    after = snapshot(run_copy)
    if point == "fresh":
        assert set(after) < set(before) and all(after[name] == before[name] for name in after)
    else:
        assert after == before
    assert not [p for p in (*run_copy.rglob(".*tmp*"), *tmp_path.glob(".*tmp*"))]


def test_ctrl_c_while_the_data_loads(tmp_path):
    out = tmp_path / "run"
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", out, env={guards.FAULT_ENV: "sigint-loading@0"})
    assert_one_line(code, err, 130, "interrupted")
    assert not out.exists() or not list(out.rglob("*.index"))


# --------------------------------------------------------------------------- evaluate.py, compare.py
EVALUATE_CASES = [
    ([], "name at least one run folder"),
    (["{run}", "--samp", "10"], "unrecognized arguments"),  # no abbreviations
    (["{tmp}"], "is not a run folder"),
    (["{run}", "--samples", "0"], "--samples"),
    (["{run}", "--samples", "1"], "at least 10"),  # one sample has no covariance (a LinAlgError traceback before)
]


@pytest.mark.parametrize("argv, words", EVALUATE_CASES, ids=[" ".join(a) or "none" for a, _ in EVALUATE_CASES])
def test_evaluate_usage_errors_are_one_line(run_copy, tmp_path, argv, words):
    argv = [a.format(run=run_copy, tmp=tmp_path) for a in argv]
    code, err, _ = run("evaluate.py", *argv)
    assert_one_line(code, err, 2, words)


def test_evaluate_a_run_with_a_damaged_config(run_copy):
    config_cut_short(run_copy)
    before = snapshot(run_copy)
    code, err, _ = run("evaluate.py", run_copy, "--samples", "100")
    assert_one_line(code, err, 2, "config.json is damaged", "restore it")
    assert snapshot(run_copy) == before


def damage_metrics(run_dir):
    (run_dir / "metrics.json").write_text('{"checkpoint": "ckpt-6", "score": ')
    return ["metrics.json is damaged", "evaluate.py"]


def damage_grid(run_dir):
    grid = run_dir / "samples" / "epoch_0002.png"
    grid.write_bytes(grid.read_bytes()[:50])
    return ["epoch_0002.png is damaged"]


COMPARE_CASES = [
    (None, ["--out", "{tmp}/x.xyz"], ["cannot write .xyz"]),
    (None, ["--out", "{tmp}"], ["is a folder"]),
    (None, ["--cur"], ["unrecognized arguments"]),  # no abbreviations
    (None, ["--epochs", "0"], ["--epochs"]),
    (damage_metrics, [], []),
    (damage_grid, [], []),
    (damage_history, [], []),
    (config_cut_short, [], []),
]


@pytest.mark.parametrize(
    "damage, argv, words", COMPARE_CASES, ids=[f"{getattr(d, '__name__', '')} {' '.join(a)}" for d, a, _ in COMPARE_CASES]
)
def test_compare_failures_are_one_line(run_copy, tmp_path, damage, argv, words):
    words = list(words) + (damage(run_copy) if damage else [])
    before = snapshot(run_copy)
    out = tmp_path / "cmp.png"
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, err, _ = run("compare.py", run_copy, "--out", out, *argv)
    assert_one_line(code, err, 2, *words)
    assert snapshot(run_copy) == before and not out.exists()


def test_compare_best_of_a_run_without_evaluations(tmp_path):
    out = tmp_path / "run"
    code, err, _ = run("gan_fc.py", *TRAIN, "--eval-every", "0", "--out-dir", out)
    assert code == 0, err
    code, err, _ = run("compare.py", out, "--checkpoint", "best", "--out", tmp_path / "x.png")
    assert_one_line(code, err, 2, "no evaluations during training")


def test_compare_shows_a_missing_best_grid_as_missing(run_copy, tmp_path):
    best_epoch = json.loads((run_copy / "checkpoints" / "best" / "best.json").read_text())["epoch"]
    (run_copy / "samples" / f"epoch_{best_epoch:04d}.png").unlink()
    code, err, out = run("compare.py", run_copy, "--checkpoint", "best", "--out", tmp_path / "x.png")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:] if line.startswith("gan_fc/")]
    assert rows[0][1] == str(best_epoch)  # the best epoch's numbers, beside an empty cell, not another epoch's grid


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--step", "2"], "unrecognized arguments"),
        (["--json", "/no/such/folder/b.json"], "--json"),
        (["--json", "/proc/b.json", "--model", "fc"], "cannot write to /proc"),  # before the bench, not after (exit 1)
    ],
)
def test_bench_usage_errors_are_one_line(argv, words):
    code, err, _ = run("bench.py", *argv)
    assert_one_line(code, err, 2, words)


# ----------------------------------------------------- faults while writing (in this process, mocked)
def test_a_disk_that_fills_while_a_grid_is_written(tmp_path, tiny_mnist, monkeypatch, capsys):
    """Half a PNG is written, then the disk is full: the run stops with one line, no truncated grid is
    left in place, and once there is room again the same command resumes and draws every grid."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "3"]
    assert run_main(gan_fc, [*argv, "--epochs", "1"]) == 0
    real_save = images.Image.Image.save

    def fill_the_disk(image, path, *args, **kwargs):  # the grid's PNG (the GIF and the plot pass other formats)
        real_save(image, path, *args, **kwargs)
        if kwargs.get("format") != "PNG":
            return
        with open(path, "r+b") as f:
            f.truncate(40)
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as mp:
        mp.setattr(images.Image.Image, "save", fill_the_disk)
        assert run_main(gan_fc, [*argv, "--epochs", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "end of epoch 2" in err and "No space left on device" in err and "ckpt-6, is intact" in err
    assert not (out / "samples" / "epoch_0002.png").exists()
    assert not [p for p in (out / "samples").iterdir() if p.name.startswith(".")]
    assert run_main(gan_fc, [*argv, "--epochs", "3"]) == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png", "epoch_0003.png"]


def test_a_failed_save_of_the_best_checkpoint(tmp_path, tiny_mnist, monkeypatch, capsys):
    """The best checkpoint is a link to (or a copy of) the epoch's own files: a disk that refuses it
    stops training with one line, and the epoch's checkpoint stays."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "3", "--epochs", "2", "--eval-every", "1"]

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(checkpoints.os, "link", full)
        mp.setattr(checkpoints.shutil, "copyfile", full)
        assert run_main(gan_fc, argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err and "ckpt-3, is intact" in err
    assert checkpoints.steps(out / "checkpoints") == [3] and not checkpoints.steps(out / "checkpoints" / "best")
    assert not list((out / "checkpoints" / "best").iterdir())  # no temporary file left behind


def test_a_failed_drawing_in_the_background_is_one_line(tmp_path, tiny_mnist, monkeypatch, capsys):
    """The loss plot is drawn in a thread while training goes on; a disk that refuses it still ends
    the run with one line, the epoch's checkpoint kept."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "3", "--epochs", "2"]

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as mp:
        mp.setattr(images.LossPlot, "save", full)
        assert run_main(gan_fc, argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "losses.png" in err and "No space left on device" in err and "is intact" in err
    assert checkpoints.steps(out / "checkpoints")  # the checkpoints were saved before the drawing failed


# ------------------------------------------ what a new user's trial found (in this process, for speed)
def test_fresh_in_another_projects_run_folder_deletes_nothing(tmp_path):
    """Another TensorFlow project's run: standard Saver file names and a config.json of its own."""
    theirs = tmp_path / "their-run"
    (theirs / "checkpoints").mkdir(parents=True)
    (theirs / "checkpoints" / "ckpt-100.index").write_bytes(b"their checkpoint")
    (theirs / "config.json").write_text('{"model": "resnet", "hparams": {}}')
    (theirs / "samples").mkdir()
    (theirs / "samples" / "cat.png").write_bytes(b"their picture")
    before = snapshot(theirs)
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", theirs, "--fresh")
    assert_one_line(code, err, 2, "not a run folder of this project")
    assert snapshot(theirs) == before


def test_fresh_keeps_a_users_own_files_inside_a_run_folder(run_copy, capsys):
    (run_copy / "samples" / "my_pick.png").write_bytes(b"chosen by hand")
    (run_copy / "checkpoints" / "README.txt").write_text("notes")
    assert run_main(gan_fc, [*TRAIN, "--out-dir", run_copy, "--fresh"]) == 0
    assert (run_copy / "samples" / "my_pick.png").read_bytes() == b"chosen by hand"
    assert (run_copy / "checkpoints" / "README.txt").read_text() == "notes"
    assert "removed" in capsys.readouterr().out


def test_compare_never_overwrites_a_table_it_did_not_write(run_copy, tmp_path, capsys):
    import compare

    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    with pytest.raises(SystemExit) as e:
        compare.main([str(run_copy), "--out", str(tmp_path / "notes.png")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "is not a table compare.py wrote" in err
    assert notes.read_text() == "# my notes\n" and not (tmp_path / "notes.png").exists()


def test_generate_to_an_upper_case_extension(run_copy, tmp_path):
    target = tmp_path / "out" / "digits.NPZ"
    assert run_main(gan_fc, ["--out-dir", run_copy, "--generate", "5", "--to", target]) == 0
    assert np.load(target)["images"].shape == (5, 28, 28, 1)
    assert sorted(p.name for p in target.parent.iterdir()) == ["digits.NPZ"]


def hparam_out_of_range(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config["hparams"]["z_dim"] = -5
    (run_dir / "config.json").write_text(json.dumps(config))
    return ["z_dim = -5", "restore it"]


def unknown_dataset(run_dir):
    config = json.loads((run_dir / "config.json").read_text())
    config["dataset"] = "foo"
    (run_dir / "config.json").write_text(json.dumps(config))
    return ["config.json is damaged", "'foo'"]


def infinite_step(run_dir):
    text = (run_dir / "history.csv").read_text().splitlines()
    text[2] = "inf" + text[2][text[2].index(",") :]
    (run_dir / "history.csv").write_text("\n".join(text) + "\n")
    return ["history.csv is damaged"]


def history_cut_mid_row(run_dir):
    text = (run_dir / "history.csv").read_text()
    (run_dir / "history.csv").write_text(text[: text.rindex(",", 0, len(text) - 30)])
    return ["history.csv is damaged"]


def history_header_only(run_dir):
    (run_dir / "history.csv").write_text((run_dir / "history.csv").read_text().splitlines()[0] + "\n")
    return ["history.csv is damaged", "no rows, but the checkpoint is at step"]


def history_empty(run_dir):
    (run_dir / "history.csv").write_bytes(b"")
    return ["history.csv is damaged", "no rows, but the checkpoint is at step"]


def best_fd_as_text(run_dir):
    record = run_dir / "checkpoints" / "best" / "best.json"
    best = json.loads(record.read_text())
    best["fd"] = str(best["fd"])
    record.write_text(json.dumps(best))
    return ["best.json is damaged"]


def junk_grid(run_dir):
    (run_dir / "samples" / "epoch_0001.png").write_text("not a picture")
    return ["epoch_0001.png is damaged", "delete it"]


IN_PROCESS_CASES = [
    (hparam_out_of_range, gan_fc, ["--generate", "4"]),
    (infinite_step, gan_fc, []),
    (history_cut_mid_row, gan_fc, []),
    (history_header_only, gan_fc, []),
    (history_empty, gan_fc, []),
    (best_fd_as_text, gan_fc, []),
    (junk_grid, gan_fc, []),
    (unknown_dataset, gan_fc, ["--generate", "4"]),
    (lambda run_dir: ["is a run of gan_fc.py, not of gan_dcgan.py"], "gan_dcgan", ["--generate", "4"]),
]


@pytest.mark.parametrize(
    "damage, script, extra", IN_PROCESS_CASES, ids=[getattr(d, "__name__", "wrong_script") for d, _, _ in IN_PROCESS_CASES]
)
def test_hand_edited_run_files_are_named_before_any_training(run_copy, capsys, damage, script, extra):
    import importlib

    module = importlib.import_module(script) if isinstance(script, str) else script
    words = damage(run_copy)
    before = snapshot(run_copy)
    argv = [*TRAIN, "--eval-every", "1", "--epochs", "3"] if not extra else []
    assert run_main(module, [*argv, "--out-dir", run_copy, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and all(w in err for w in words), err
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    "program, argv, words",
    [
        ("gan_fc", ["--generate", "4", "--fresh"], "--fresh goes with training"),
        ("gan_fc", ["--generate", "4", "--steps-per-run", "8"], "--steps-per-run goes with training"),
        ("bench", ["--batch-size", "70000"], "at most 60000"),
        ("bench", ["--epoch-end", "30,2147483648"], "from 0 to 1000"),
    ],
)
def test_flags_that_cannot_go_together(capsys, program, argv, words):
    import importlib

    with pytest.raises(SystemExit) as e:
        importlib.import_module(program).main(argv)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and words in err, err


def test_evaluate_when_metrics_json_cannot_be_written(run_copy, monkeypatch, capsys):
    import evaluate
    from common import files

    def disk_full(path, value):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(files, "write_json", disk_full)
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(run_copy), "--samples", "100"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 1 and "\n" not in err and "metrics.json: No space left on device" in err, err


def test_tensorboard_files_that_cannot_be_written(tmp_path, tiny_mnist, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.summary, "FileWriter", refuse)
    assert run_main(gan_fc, [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", tmp_path / "run", "--epochs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot write TensorBoard's files" in err and "No space left on device" in err


def test_evaluate_draws_g_itself_on_the_same_checkpoint_without_touching_metrics(run_copy, capsys):
    """`--draw-from g`: G's own weights instead of their average, from the same checkpoint, printed and
    not written over the average's metrics.json."""
    import evaluate

    (average,) = evaluate.main([str(run_copy), "--samples", "300"])
    saved = (run_copy / "metrics.json").read_bytes()
    (itself,) = evaluate.main([str(run_copy), "--samples", "300", "--draw-from", "g"])
    assert itself["run"].endswith("(G itself)") and itself["checkpoint"] == average["checkpoint"]
    assert itself["fd"] != average["fd"]
    assert (run_copy / "metrics.json").read_bytes() == saved


# ------------------------------------------------------ checked before the work, with the right code
@pytest.mark.parametrize("program, argv", [("gan_fc.py", ["--out-dir"]), ("evaluate.py", []), ("compare.py", [])])
def test_a_path_in_an_unknown_users_home(program, argv):
    code, err, _ = run(program, *argv, "~no-such-user-here/runs/a")
    assert_one_line(code, err, 2, "no such user's home folder")


def test_a_data_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        os.mkfifo(folder / name)
    code, err, _ = run("gan_fc.py", *TRAIN, "--out-dir", tmp_path / "run", "--data-dir", folder, timeout=60)
    assert_one_line(code, err, 2, "is not a regular file")


def test_evaluate_checks_every_runs_best_checkpoint_before_writing_any(run_copy, tmp_path, capsys):
    import evaluate

    no_best = tmp_path / "no_best"
    shutil.copytree(run_copy, no_best)
    shutil.rmtree(no_best / "checkpoints" / "best")
    with pytest.raises(SystemExit) as e:
        evaluate.main([str(run_copy), str(no_best), "--checkpoint", "best", "--samples", "10"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "no best checkpoint" in err, err
    assert not (run_copy / "metrics-best.json").exists()


def test_compare_refuses_a_table_name_that_is_a_folder(run_copy, tmp_path, capsys):
    import compare

    (tmp_path / "cmp.md").mkdir()
    with pytest.raises(SystemExit) as e:
        compare.main([str(run_copy), "--out", str(tmp_path / "cmp.png")])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "is a folder" in err, err
    assert not (tmp_path / "cmp.png").exists()


def test_compare_names_a_small_evaluation_by_its_count(run_copy):
    import compare

    (run_copy / "metrics.json").write_text(
        json.dumps({"score": [5.0, 0.1], "fd": 90.0, "samples": 10, "checkpoint": "ckpt-6", "run": "x"})
    )
    assert compare.describe(runs.RunFolder(run_copy))["source"] == "evaluate.py, 10 samples"


def test_an_out_dir_too_long_for_the_files_inside_is_refused_before_training(tmp_path, capsys):
    out = tmp_path.joinpath(*["d" * 200] * 20)  # each name legal; the path ~4,080 bytes, its checkpoints past 4,095
    assert run_main(gan_fc, [*TRAIN, "--out-dir", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pass a shorter --out-dir" in err and "bytes" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_legal_long_output_name_is_written(run_copy, tmp_path, capsys):
    target = tmp_path / "generated" / ("d" * 246 + ".npz")  # 250 bytes: its temporary name would have been 255 + 5
    assert run_main(gan_fc, ["--out-dir", run_copy, "--generate", "4", "--to", target]) == 0
    assert np.load(target)["images"].shape == (4, 28, 28, 1)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
