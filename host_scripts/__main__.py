import sys

from host_scripts.program import run

sys.exit(run())
