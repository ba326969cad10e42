"""The one backoff policy: delays that grow by a factor from a start up to a cap.

``Backoff`` guarantees that the n-th delay since the last ``reset()`` is
``min(cap, start * factor ** (n - 1))``, multiplied by a random factor in
``[1 - jitter, 1 + jitter]`` when ``jitter`` is set (so that clients recovering together
do not all come back at the same moment). The delay never exceeds ``cap * (1 + jitter)``,
however long the outage lasts. ``delay(attempt)`` gives the same figure for a count kept
elsewhere (a retry counter stored in the database), without touching the state.
"""

from __future__ import annotations

import random

_random = random.SystemRandom()


class Backoff:
    """Growing delays between tries: ``next()`` after a failure, ``reset()`` after a success."""

    def __init__(
        self, start: float = 0.2, *, factor: float = 2.0, cap: float = 5.0, jitter: float = 0.0
    ) -> None:
        if start < 0 or factor < 1 or cap < 0 or not 0 <= jitter < 1:
            raise ValueError("backoff needs start >= 0, factor >= 1, cap >= 0, 0 <= jitter < 1")
        self.start, self.factor, self.cap, self.jitter = start, factor, cap, jitter
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next try; each call counts one more failure."""
        self.attempts += 1
        return self.delay(self.attempts)

    def reset(self) -> None:
        """Start again from ``start``: the thing waited for answered."""
        self.attempts = 0

    def delay(self, attempt: int) -> float:
        """The delay after ``attempt`` failures in a row (1 for the first), with jitter."""
        try:
            base = min(self.cap, self.start * self.factor ** max(0, attempt - 1))
        except OverflowError:  # a very long outage: the cap was reached long ago
            base = self.cap
        if self.jitter:
            base *= _random.uniform(1 - self.jitter, 1 + self.jitter)
        return float(base)
