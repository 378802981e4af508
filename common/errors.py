"""The two ways a run ends early on purpose, and how failures become one line and an exit code
(argparse errors and a training's signal exit are the two others, in flags.py and loop.py).

A `UsageError` is the user's input (a flag, a folder, a data file): one line saying what to do, exit
code 2. `TrainingFailed` is training that cannot go on (it diverged, a save failed): one line saying
what was kept, exit code 1, as for a file that could not be written. Ctrl-C or SIGTERM outside
training: one line, exit code 130 or 143, and no temporary file left (they unwind like an exception).
"""

import contextlib
import os
import signal
import sys
import threading


class UsageError(Exception):
    """The user asked for something that cannot be done as asked; the message says what to do."""


class TrainingFailed(Exception):
    """Training cannot go on (diverged, or a save failed); the message says what was kept."""


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop: raised like Ctrl-C's KeyboardInterrupt, so every `finally`
    (a temporary file's removal, a lock's release) runs, where the default action would end the process
    in silence. The loop catches both signals itself to save first."""


def _stopped(error):
    """The one line and exit code of a Ctrl-C (130) or a SIGTERM (143)."""
    return ("terminated", 128 + signal.SIGTERM) if isinstance(error, Terminated) else ("interrupted", 128 + signal.SIGINT)


def first_line(error):
    """What an OSError or a TensorFlow OpError says, without TF's node trace and hints on later lines
    (a full disk arrives as ResourceExhaustedError, with a hint about GPU memory that would mislead)."""
    text = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    first = (text.strip().splitlines() or [type(error).__name__])[0]
    causes = [cause for cause in OS_CAUSES if cause in text]  # TF names an OS failure deep in a "Graph
    return causes[0] if causes and causes[0] not in first else first  # execution error" message


OS_CAUSES = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Permission denied")


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
    except OSError as e:  # a write that failed outside the training loop (which names what it kept itself)
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"{program}: failed: {where}{e.strerror or e}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM outside training (which saves first): nothing half-written stays
        what, code = _stopped(e)
        print(f"{program}: {what}", file=sys.stderr)
        raise SystemExit(code) from None
    except MemoryError:
        print(f"{program}: failed: out of memory; ask for fewer images or a smaller model", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as e:  # TensorFlow's errors, told by name: this module does not import TensorFlow
        if type(e).__name__ == "UnimplementedError" and "determinis" in str(e).lower():
            print(
                f"{program}: failed: an op has no deterministic kernel on this device ({first_line(e)}); "
                "run without --deterministic",
                file=sys.stderr,
            )
            raise SystemExit(1) from None
        if type(e).__name__ != "ResourceExhaustedError":
            raise
        print(
            f"{program}: failed: out of memory or disk ({first_line(e)}); lower --batch-size or the model's widths",
            file=sys.stderr,
        )
        raise SystemExit(1) from None


def _terminate(signum, frame):
    raise Terminated


def quiet_interrupts():
    """Ctrl-C or SIGTERM before a program's main runs — while TensorFlow loads, which takes seconds —
    ends it with one line and exit code 130 or 143 instead of an import traceback or silence. A Ctrl-C
    that lands where Python can only report it (a callback of a C library's, e.g. matplotlib's, printed
    as "Exception ignored") is raised again at once, so it stops the program there too. Other errors
    are untouched."""
    with contextlib.suppress(ValueError):  # imported first in a thread other than the main one: no handler
        signal.signal(signal.SIGTERM, _terminate)
    previous, previous_unraisable = sys.excepthook, sys.unraisablehook

    def hook(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            what, code = _stopped(value)
            print(f"{os.path.basename(sys.argv[0] or 'python')}: {what}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(code)
        previous(kind, value, traceback)

    def unraisable(report):
        if not isinstance(report.exc_value, KeyboardInterrupt):
            previous_unraisable(report)
            return
        signum = signal.SIGTERM if isinstance(report.exc_value, Terminated) else signal.SIGINT
        if threading.current_thread() is not threading.main_thread():
            os.kill(os.getpid(), signum)  # its handler runs in the main thread, outside this hook
            return
        # In the main thread the handler would run inside this hook, whose own exception Python
        # swallows as well: the signal is sent again a moment after the hook has returned.
        previous_alarm = signal.getsignal(signal.SIGALRM)

        def again(_signum, frame):  # the handler in force now, or the exception itself if none is Python's
            signal.signal(signal.SIGALRM, previous_alarm)
            handler = signal.getsignal(signum)
            if not callable(handler):  # ignored, as in a child of a process that ignores Ctrl-C
                raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
            handler(signum, frame)

        signal.signal(signal.SIGALRM, again)
        signal.setitimer(signal.ITIMER_REAL, 0.001)

    sys.excepthook, sys.unraisablehook = hook, unraisable
