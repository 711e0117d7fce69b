//! Lag thresholds and the verdict they give (pure, unit-tested).
//!
//! When both a time threshold and a byte threshold are configured for a level, a replica
//! reaches that level only when **both** are exceeded: an idle primary writes nothing, so
//! the time since the last replayed transaction grows while no byte is missing, and that
//! must not page anyone. When only one kind is configured, that kind decides. A measure the
//! engine cannot give (bytes on MySQL across binary log files, say) leaves the decision to
//! the other kind.

use std::time::Duration;

use serde::Serialize;

use super::Severity;
use crate::config::ReplicationConfig;

/// Time lag thresholds used when `[env.X.replication]` sets none of the four.
pub const DEFAULT_WARN_LAG: Duration = Duration::from_secs(10);
/// See [`DEFAULT_WARN_LAG`].
pub const DEFAULT_CRIT_LAG: Duration = Duration::from_secs(60);

/// The lag thresholds of an env.
///
/// ```
/// use std::time::Duration;
/// use dbenv::replication::{Severity, Thresholds};
/// let t = Thresholds {
///     warn_lag: Some(Duration::from_secs(10)),
///     crit_lag: Some(Duration::from_secs(60)),
///     warn_bytes: Some(16 << 20),
///     crit_bytes: None,
/// };
/// // Time exceeded but nothing is missing: an idle primary, not a lagging replica.
/// assert_eq!(t.level(Some(Duration::from_secs(30)), Some(0)), Severity::Ok);
/// assert_eq!(t.level(Some(Duration::from_secs(30)), Some(32 << 20)), Severity::Warning);
/// // Only a time threshold at the critical level: time decides.
/// assert_eq!(t.level(Some(Duration::from_secs(90)), Some(0)), Severity::Critical);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Thresholds {
    #[serde(serialize_with = "super::report::secs")]
    pub warn_lag: Option<Duration>,
    #[serde(serialize_with = "super::report::secs")]
    pub crit_lag: Option<Duration>,
    pub warn_bytes: Option<u64>,
    pub crit_bytes: Option<u64>,
}

impl Thresholds {
    /// The env's configured thresholds; [`DEFAULT_WARN_LAG`] and [`DEFAULT_CRIT_LAG`] when
    /// it configures none.
    pub fn from_config(config: Option<&ReplicationConfig>) -> Thresholds {
        let t = config.map_or_else(Thresholds::default, |c| Thresholds {
            warn_lag: c.warn_lag,
            crit_lag: c.crit_lag,
            warn_bytes: c.warn_bytes,
            crit_bytes: c.crit_bytes,
        });
        if t == Thresholds::default() {
            return Thresholds {
                warn_lag: Some(DEFAULT_WARN_LAG),
                crit_lag: Some(DEFAULT_CRIT_LAG),
                ..t
            };
        }
        t
    }

    /// The severity of a replica lagging `lag` behind in time and `bytes` in WAL/binlog
    /// (`None`: not measured).
    pub fn level(&self, lag: Option<Duration>, bytes: Option<u64>) -> Severity {
        if reached(self.crit_lag, self.crit_bytes, lag, bytes) {
            Severity::Critical
        } else if reached(self.warn_lag, self.warn_bytes, lag, bytes) {
            Severity::Warning
        } else {
            Severity::Ok
        }
    }
}

/// One level: every configured and measured kind is exceeded (at least one must be both).
fn reached(
    time: Option<Duration>,
    bytes: Option<u64>,
    lag: Option<Duration>,
    lag_bytes: Option<u64>,
) -> bool {
    let by_time = time.zip(lag).map(|(limit, lag)| lag >= limit);
    let by_bytes = bytes.zip(lag_bytes).map(|(limit, b)| b >= limit);
    match (by_time, by_bytes) {
        (Some(t), Some(b)) => t && b,
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Option<Duration> = |n| Some(Duration::from_secs(n));

    fn both() -> Thresholds {
        Thresholds {
            warn_lag: S(10),
            crit_lag: S(60),
            warn_bytes: Some(1000),
            crit_bytes: Some(100_000),
        }
    }

    #[test]
    fn both_kinds_configured_need_both_exceeded() {
        let t = both();
        // An idle primary: time grows, no byte missing.
        assert_eq!(t.level(S(3600), Some(0)), Severity::Ok);
        // A burst of writes replayed quickly: bytes but no time.
        assert_eq!(t.level(S(1), Some(10_000_000)), Severity::Ok);
        assert_eq!(t.level(S(10), Some(1000)), Severity::Warning);
        assert_eq!(t.level(S(59), Some(1_000_000)), Severity::Warning);
        assert_eq!(t.level(S(60), Some(100_000)), Severity::Critical);
    }

    #[test]
    fn only_one_kind_configured_decides_alone() {
        let time = Thresholds {
            warn_lag: S(10),
            crit_lag: S(60),
            ..Default::default()
        };
        assert_eq!(time.level(S(10), Some(0)), Severity::Warning);
        assert_eq!(time.level(S(61), None), Severity::Critical);
        assert_eq!(time.level(S(9), Some(u64::MAX)), Severity::Ok);
        let bytes = Thresholds {
            warn_bytes: Some(1000),
            ..Default::default()
        };
        assert_eq!(bytes.level(S(10_000), Some(999)), Severity::Ok);
        assert_eq!(bytes.level(None, Some(1000)), Severity::Warning);
    }

    #[test]
    fn a_measure_the_engine_lacks_leaves_the_decision_to_the_other() {
        let t = both();
        assert_eq!(t.level(S(61), None), Severity::Critical);
        assert_eq!(t.level(None, Some(100_000)), Severity::Critical);
        assert_eq!(t.level(None, None), Severity::Ok);
    }

    #[test]
    fn levels_mix_kinds_per_level() {
        // Warning by bytes only, critical by time only.
        let t = Thresholds {
            warn_bytes: Some(1000),
            crit_lag: S(60),
            ..Default::default()
        };
        assert_eq!(t.level(S(0), Some(5000)), Severity::Warning);
        assert_eq!(t.level(S(60), Some(0)), Severity::Critical);
    }

    #[test]
    fn no_thresholds_configured_means_the_defaults() {
        let t = Thresholds::from_config(None);
        assert_eq!(t.warn_lag, Some(DEFAULT_WARN_LAG));
        assert_eq!(t.crit_lag, Some(DEFAULT_CRIT_LAG));
        let c = ReplicationConfig {
            warn_lag: None,
            crit_lag: None,
            warn_bytes: Some(5),
            crit_bytes: None,
            heartbeat: true,
            migrate_guard: crate::config::MigrateGuard::Off,
        };
        let t = Thresholds::from_config(Some(&c));
        assert_eq!((t.warn_lag, t.warn_bytes), (None, Some(5)));
    }
}
