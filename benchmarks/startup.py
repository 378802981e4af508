"""The start-up of the scripts, timed from outside as a user meets it: fresh interpreters on a real
checkout (this one or another, for a before/after in one sitting), each set against a bare `import
tensorflow` of the same rounds, since that import is most of any start and varies with the machine's load."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import errors


def bench_startup(repo, repeats, log=print):
    """Seconds from launch to a command's first useful act, each the median of `repeats`, measured round
    by round so that a busy machine slows every command alike; and each as a ratio to a bare `import
    tensorflow` of the same rounds. The commands are `repo`'s scripts (another checkout gives a
    before/after in one sitting), in a scratch folder:
    - `--help`, and a bad flag (`--lr -1`);
    - rerunning a finished run (a two-step FC run, trained first, not timed);
    - a fresh `gan_fc.py` run to its first training step (stopped there by the GAN_FAULT test hook);
    - `evaluate.py` on the finished run to its first sampled chunk (the same hook, at the chunk)."""
    repo = Path(repo).resolve()
    python = sys.executable

    def timed(argv, env=None, expect=(0,)):
        start = time.perf_counter()
        done = subprocess.run([python, *argv], cwd=repo, env={**os.environ, **(env or {})}, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in expect:
            raise errors.TrainingFailed(
                f"start-up bench: {' '.join(argv[:3])} exited {done.returncode}: {done.stderr.strip()[-300:]}"
            )
        return seconds

    with tempfile.TemporaryDirectory() as folder:
        done_run = str(Path(folder) / "finished")
        finished = ["gan_fc.py", "--out-dir", done_run, "--epochs", "1", "--steps-per-epoch", "2"]
        timed(finished)  # trains it (and fills any cache a first launch fills), not timed
        commands = {
            "import tensorflow": (["-c", "import tensorflow"], None, (0,)),
            "gan_fc.py --help": (["gan_fc.py", "--help"], None, (0,)),
            "a bad flag": (["gan_fc.py", "--lr", "-1"], None, (2,)),
            "rerun of a finished run": (finished, None, (0,)),
            "fresh FC run to its first step": (None, {"GAN_FAULT": "sigkill@1"}, (-9,)),
            "evaluate.py to its first images": (
                ["evaluate.py", done_run, "--samples", "1000"],
                {"GAN_FAULT": "sigint-generate@0"},
                (130,),
            ),
        }
        times = {name: [] for name in commands}
        for i in range(repeats):
            for name, (argv, env, expect) in commands.items():
                if argv is None:
                    argv = ["gan_fc.py", "--out-dir", str(Path(folder) / f"fresh{i}"), "--epochs", "1"]
                times[name].append(timed(argv, env, expect))
    medians = {name: statistics.median(t) for name, t in times.items()}
    bare = medians["import tensorflow"]
    log(f"start-up ({repo.name}, median of {repeats}; ratio to a bare import tensorflow, {bare:.2f} s):")
    for name, seconds in medians.items():
        extra = f"  = import + {seconds - bare:+.2f} s" if name != "import tensorflow" else ""
        log(f"  {name:34s} {seconds:6.2f} s  ×{seconds / bare:.2f}{extra}")
    return {
        "repo": str(repo),
        "repeats": repeats,
        "median_s": medians,
        "ratio_to_import": {k: v / bare for k, v in medians.items()},
    }
