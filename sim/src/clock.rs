//! The fake clock's origin.

use std::time::Instant;

/// The origin of every fake clock in router-core's tests and in the simulator:
/// the **only** place they read the real clock.
///
/// `std`'s [`Instant`] has no constructor but [`Instant::now`], so a test
/// needs one real reading to start from. The value is arbitrary and means
/// nothing: time then moves only by the explicit `Duration`s a test adds to
/// it, so no result depends on when the test runs, how fast the machine is,
/// or how long it was descheduled.
pub fn epoch() -> Instant {
    Instant::now()
}
