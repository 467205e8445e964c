import os
import sys

from hypothesis import Phase, settings

# Tests import the in-tree package and the helper module next to this file.
sys.path.insert(0, os.path.dirname(__file__))

# Many property tests fork a child per example, so a failure's shrinking
# can run for a very long time.  By default the examples are derandomized
# (the same on every run, so a suite that passed here passes in CI) and
# a failure is reported unshrunk.  SECCOMPX_HYPOTHESIS=explore draws new
# examples on each run and shrinks failures, for hunting bugs.
settings.register_profile(
    "default-suite",
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile("explore", derandomize=False)
settings.load_profile(
    "explore" if os.environ.get("SECCOMPX_HYPOTHESIS") == "explore" else "default-suite"
)
