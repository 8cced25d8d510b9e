import sys

from fabqueue.cli import main

sys.exit(main())
