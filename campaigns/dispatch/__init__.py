"""Send a campaign's own post-office emails over a few reused transport connections."""

from campaigns.dispatch.dispatcher import Dispatcher
from campaigns.dispatch.values import Outcome

__all__ = ["Dispatcher", "Outcome"]
