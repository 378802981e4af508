"""What the three scripts and the tools share, one concern per module (README: Repository layout).

Importing it first makes a Ctrl-C while TensorFlow loads one line and exit code 130, not a traceback.
"""

from common.errors import quiet_interrupts

quiet_interrupts()
