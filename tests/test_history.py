"""history.csv: appended an epoch at a time, and read back past a crash that cut an append short."""

import math

import pytest

from common import history
from common.errors import UsageError


def rows(first, last, epoch=1):
    return [history.row(s, epoch, {k: s / 10 for k in history.STEP_METRICS}) for s in range(first, last + 1)]


def test_appended_epochs_read_back_as_one_history(tmp_path):
    path = tmp_path / "history.csv"
    history.append(path, rows(1, 3))  # the first append creates the file with its header
    history.append(path, rows(4, 6, epoch=2))
    back = history.read(path)
    assert [r["step"] for r in back] == [1, 2, 3, 4, 5, 6] and back[3]["epoch"] == 2
    assert math.isnan(back[0]["fd"]) and back[5]["g_loss"] == pytest.approx(0.6)


def test_an_append_cut_by_a_crash_loses_only_its_cut_line(tmp_path):
    """A crash mid-append (before the checkpoint that follows it) leaves a line without its end."""
    path = tmp_path / "history.csv"
    history.append(path, rows(1, 3))
    with open(path, "a") as f:
        f.write("4,2,0.4,0.4")
    assert [r["step"] for r in history.read(path, upto_step=3)] == [1, 2, 3]
    history.append(path, rows(4, 5))  # not what the loop does (it rewrites the file once per session) …
    with pytest.raises(UsageError, match="damaged"):  # … and a cut line in the middle is damage
        history.read(path)


def test_a_history_that_ends_before_the_checkpoint_is_damaged(tmp_path):
    path = tmp_path / "history.csv"
    history.write(path, rows(1, 3))
    with pytest.raises(UsageError, match="ends at step 3, before the checkpoint's step 5"):
        history.read(path, upto_step=5)
    assert [r["step"] for r in history.read(path, upto_step=2)] == [1, 2]


@pytest.mark.parametrize("text", ["", ",".join(history.COLUMNS) + "\n"], ids=["empty", "header only"])
def test_a_history_without_rows_beside_a_checkpoint_is_damaged(tmp_path, text):
    """The loop appends an epoch's rows before its checkpoint, so no rows beside one means lost rows."""
    path = tmp_path / "history.csv"
    path.write_text(text)
    with pytest.raises(UsageError, match="no rows, but the checkpoint is at step 5"):
        history.read(path, upto_step=5)
    assert history.read(path) == [] and history.read(path, upto_step=0) == []
