"""The shared backoff policy: growth, cap, reset, jitter bounds."""

from __future__ import annotations

import pytest

from servidesk_shared.backoff import Backoff


def test_delays_double_from_start_up_to_the_cap_and_start_again_after_reset() -> None:
    backoff = Backoff(start=0.5, factor=2.0, cap=10.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_delay_for_a_count_kept_elsewhere_matches_the_sequence() -> None:
    backoff = Backoff(start=0.2, factor=2.0, cap=5.0)
    assert [backoff.delay(n) for n in (0, 1, 2, 3, 6)] == [0.2, 0.2, 0.4, 0.8, 5.0]
    assert backoff.next() == 0.2  # delay() left the state alone


def test_a_very_long_outage_stays_at_the_cap() -> None:
    backoff = Backoff(start=0.2, factor=2.0, cap=5.0)
    assert backoff.delay(5000) == 5.0


def test_jitter_stays_within_its_band_and_varies() -> None:
    backoff = Backoff(start=1.0, factor=2.0, cap=4.0, jitter=0.2)
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(3.2 <= d <= 4.8 for d in delays)
    assert len(set(delays)) > 1


def test_a_zero_start_never_waits() -> None:
    backoff = Backoff(start=0.0, factor=2.0, cap=8.0)
    assert [backoff.next() for _ in range(3)] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "kwargs", [{"start": -1.0}, {"factor": 0.5}, {"cap": -1.0}, {"jitter": 1.0}]
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kwargs)
