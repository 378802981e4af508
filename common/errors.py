"""The two ways a run ends early on purpose, and the one place they become exit codes.

A `UsageError` is the user's input (a flag, a folder, a data file): one line saying what to do, exit
code 2. `TrainingFailed` is training that cannot go on (it diverged, a save failed): one line saying
what was kept, exit code 1.
"""

import contextlib
import sys


class UsageError(Exception):
    """The user asked for something that cannot be done as asked; the message says what to do."""


class TrainingFailed(Exception):
    """Training cannot go on (diverged, or a save failed); the message says what was kept."""


@contextlib.contextmanager
def exit_codes(program):
    """Run the block; a UsageError (DataError included) or TrainingFailed ends the program with one
    line on stderr, prefixed by `program`, and its exit code."""
    try:
        yield
    except UsageError as e:
        print(f"{program}: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except TrainingFailed as e:
        print(f"{program}: stopped: {e}", file=sys.stderr)
        raise SystemExit(1) from None
