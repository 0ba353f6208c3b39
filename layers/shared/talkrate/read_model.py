"""Whether what the read model answered is results: a Redis that lost its data (a flush, a
restart without persistence, a replaced node) answers every talk with zeros, and the leaderboard
empty, until the read model is rebuilt, and those are no one's ratings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from talkrate.observability import logger
from talkrate.values import Histogram

if TYPE_CHECKING:  # interfaces only: the API's init defines none of them
    from talkrate.ports import Ratings, RatingsReadModel, RebuildRequests


def not_built(read_model: RatingsReadModel | Ratings, rebuilds: RebuildRequests) -> bool:
    """Whether the read model is not built (one round trip); when not, a rebuild is asked for
    at once, rather than at the next scheduled check. Raises BackendUnavailable when Redis does
    not answer."""
    if read_model.is_built():
        return False
    logger.warning("the read model is not built: its zeros are not shown, a rebuild is asked for")
    rebuilds.rebuild_soon()
    return True


def unbuilt_zeros(
    read_model: RatingsReadModel | Ratings,
    histograms: Iterable[Histogram],
    rebuilds: RebuildRequests,
) -> bool:
    """Whether these histograms, just read from the read model, must not be shown: it is not
    built (see not_built). Asked of Redis only when one of them holds no rating (a talk nobody
    rated, or a read model lost): a read of rated talks costs no round trip more."""
    return not all(histogram.total for histogram in histograms) and not_built(read_model, rebuilds)


def unbuilt_zeros_of(
    read_model: Ratings, histograms: dict[str, Histogram], rebuilds: RebuildRequests
) -> bool:
    """unbuilt_zeros for histograms by talk id, asking only where their talks with no rating
    are kept (Ratings.built_for: on a cluster, their slots), so that a shard lost elsewhere
    does not stop the answer; when not built, a rebuild is asked for at once."""
    zeros = [talk_id for talk_id, histogram in histograms.items() if not histogram.total]
    if not zeros or read_model.built_for(zeros):
        return False
    logger.warning("the read model is not built: its zeros are not shown, a rebuild is asked for")
    rebuilds.rebuild_soon()
    return True
