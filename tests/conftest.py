import os
import sys

# Tests import the in-tree package and the helper module next to this file.
sys.path.insert(0, os.path.dirname(__file__))
