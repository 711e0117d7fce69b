//! The scheduler's notion of time, injectable: the system clock, or a clock that runs
//! faster than real time (tests and load tests: an hour of schedule in a minute).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Longest real sleep in one go: a wall clock that jumps (NTP, a suspended laptop) is
/// noticed within this time.
const MAX_NAP: Duration = Duration::from_secs(30);

/// What time it is for the schedule, and how long real time takes to reach a moment.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
    /// The real time that passes while this clock advances by `span`.
    fn real(&self, span: TimeDelta) -> Duration;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn real(&self, span: TimeDelta) -> Duration {
        span.to_std().unwrap_or_default()
    }
}

/// A clock that starts at `start` and runs `speed` times faster than real time.
///
/// ```
/// use dbenv::schedule::{Clock, ScaledClock};
/// let start = "2026-01-01T00:00:00Z".parse().unwrap();
/// let clock = ScaledClock::new(start, 60.0);
/// assert!(clock.now() >= start);
/// assert_eq!(clock.real(chrono::TimeDelta::minutes(1)), std::time::Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct ScaledClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
    speed: f64,
}

impl ScaledClock {
    pub fn new(start: DateTime<Utc>, speed: f64) -> ScaledClock {
        ScaledClock {
            start,
            origin: tokio::time::Instant::now(),
            speed: speed.max(f64::MIN_POSITIVE),
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.origin.elapsed().as_secs_f64() * self.speed;
        let span = TimeDelta::from_std(Duration::from_secs_f64(real)).unwrap_or(TimeDelta::MAX);
        self.start + span
    }
    fn real(&self, span: TimeDelta) -> Duration {
        let secs = span.to_std().unwrap_or_default().as_secs_f64() / self.speed;
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

/// Sleep until `clock` shows `t` or later, in naps of at most [`MAX_NAP`] of real time.
pub async fn sleep_until(clock: &dyn Clock, t: DateTime<Utc>) {
    loop {
        let now = clock.now();
        if now >= t {
            return;
        }
        let nap = clock.real(t - now).min(MAX_NAP);
        tokio::time::sleep(nap.max(Duration::from_millis(1))).await;
    }
}
