//! The heartbeat: each check (with `heartbeat = true`) bumps one row of `_dbenv_heartbeat`
//! on the primary, stamped with the primary's clock, and reads it back on every replica.
//!
//! A replica that applies this run's row within [`super::CheckOptions::heartbeat_wait`] lags
//! by the time it took (measured on this machine's monotonic clock). One that does not lags
//! by at least the age of the newest row it has, by the **primary's** clock: the row was
//! stamped by the primary and its age is the primary's time of writing plus the time
//! elapsed since, so a replica whose clock is off does not skew the result. That age is an
//! upper bound when checks run rarely (the previous row is as old as the previous check).

use std::time::{Duration, Instant};

/// This run's heartbeat, as written on the primary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub seq: i64,
    /// When the primary stamped it: seconds since the epoch, by the primary's clock.
    pub primary_time: f64,
    /// When the write returned, on this machine.
    pub at: Instant,
}

/// What a replica's heartbeat says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Seen {
    pub lag: Duration,
    /// The replica applied this run's heartbeat (else `lag` is the age of an older one).
    pub current: bool,
}

/// After reading a replica's heartbeat row (`(seq, time)`, `None` when it has none).
pub(crate) enum Poll {
    Done(Option<Seen>),
    Again,
}

/// Decide after one read of the replica's row: done when it shows this run's heartbeat or
/// the wait is over.
pub(crate) fn step(w: &Written, wait: Duration, row: Option<(i64, f64)>) -> Poll {
    let elapsed = w.at.elapsed();
    match row {
        Some((seq, _)) if seq >= w.seq => Poll::Done(Some(Seen {
            lag: elapsed,
            current: true,
        })),
        _ if elapsed < wait => Poll::Again,
        Some((_, time)) => {
            let primary_now = w.primary_time + elapsed.as_secs_f64();
            Poll::Done(Some(Seen {
                lag: Duration::from_secs_f64((primary_now - time).max(elapsed.as_secs_f64())),
                current: false,
            }))
        }
        None => Poll::Done(None),
    }
}

/// Between two reads: short at first (a healthy replica applies the row within
/// milliseconds), longer later.
pub(crate) async fn pause(w: &Written) {
    let ms = (w.at.elapsed().as_millis() as u64 / 4).clamp(2, 50);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(seq: i64, primary_time: f64, ago: Duration) -> Written {
        Written {
            seq,
            primary_time,
            at: Instant::now() - ago,
        }
    }

    #[test]
    fn this_runs_heartbeat_applied_means_a_small_current_lag() {
        let w = written(7, 1000.0, Duration::from_millis(5));
        let Poll::Done(Some(seen)) = step(&w, Duration::from_secs(1), Some((7, 1000.0))) else {
            panic!("expected a verdict");
        };
        assert!(seen.current && seen.lag < Duration::from_secs(1));
    }

    #[test]
    fn an_old_heartbeat_is_waited_for_then_aged_by_the_primarys_clock() {
        let w = written(7, 1000.0, Duration::from_millis(5));
        assert!(matches!(
            step(&w, Duration::from_secs(1), Some((6, 990.0))),
            Poll::Again
        ));
        let late = written(7, 1000.0, Duration::from_secs(2));
        let Poll::Done(Some(seen)) = step(&late, Duration::from_secs(1), Some((6, 990.0))) else {
            panic!("expected a verdict");
        };
        assert!(!seen.current);
        // 10 s between the rows' stamps, plus the 2 s since this run wrote.
        assert!((seen.lag.as_secs_f64() - 12.0).abs() < 0.5, "{seen:?}");
        // A replica whose row seems from the future (clock games) still lags the wait.
        let Poll::Done(Some(seen)) = step(&late, Duration::from_secs(1), Some((6, 5000.0))) else {
            panic!("expected a verdict");
        };
        assert!(seen.lag >= Duration::from_secs(2));
        assert!(matches!(
            step(&late, Duration::from_secs(1), None),
            Poll::Done(None)
        ));
    }
}
