"""The leaderboard's Bayesian prior, shared by the projector (which scores) and the API (which shows it).

Every talk starts as if it had PRIOR_WEIGHT ratings of PRIOR_MEAN, so a single 5 does not top a
talk with many 4s. The prior is fixed (not the global mean) so a batch only rescores the talks
it touches.
"""

from __future__ import annotations

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 10
