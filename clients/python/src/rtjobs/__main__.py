import sys

from rtjobs.cli import main

sys.exit(main())
