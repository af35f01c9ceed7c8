import sys

from host_scripts.cli import main

sys.exit(main())
