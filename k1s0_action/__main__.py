import sys

from k1s0_action.cli import main

sys.exit(main())
