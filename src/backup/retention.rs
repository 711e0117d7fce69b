//! Retention (`backup prune`): which backups a `keep` policy keeps. A pure function of the
//! list and the clock, so it can be tested over years of synthetic backups.
//!
//! The semantics are restic's and borg's `--keep-*`: backups are taken newest first;
//! `last = N` keeps the N newest; `daily = N` keeps the newest backup of each of the N most
//! recent days that have a backup (UTC days), `weekly` the same per ISO week, `monthly` per
//! calendar month. The rules are independent: a backup kept by one still counts as its
//! day's, week's or month's backup for the others. On top of the policy, the newest
//! verified backup is always kept, so a proven-restorable backup survives every prune.

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use super::id::BackupId;
use crate::config::Keep;
use crate::error::Error;

/// A backup as retention sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: BackupId,
    pub time: DateTime<Utc>,
    /// A successful `backup verify` is recorded for it.
    pub verified: bool,
}

/// What retention decided for one backup, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub keep: bool,
    /// The rules that keep it (`last`, `daily`, `weekly`, `monthly`, `verified`, `future`).
    pub reasons: Vec<&'static str>,
}

/// Apply `keep` to `backups` at time `now`; returns one decision per backup, newest first.
pub fn decide(
    backups: &[Candidate],
    keep: &Keep,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, Error> {
    if keep.last + keep.daily + keep.weekly + keep.monthly == 0 {
        return Err(Error::Unsupported(
            "the keep policy keeps nothing (last, daily, weekly and monthly are all 0); set at least keep = { last = 1 }".into(),
        ));
    }
    let mut sorted: Vec<&Candidate> = backups.iter().collect();
    sorted.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
    let mut rules = [
        Rule::new("last", keep.last, |t| t.timestamp()),
        Rule::new("daily", keep.daily, |t| i64::from(t.num_days_from_ce())),
        Rule::new("weekly", keep.weekly, |t| {
            let w = t.iso_week();
            i64::from(w.year()) * 100 + i64::from(w.week())
        }),
        Rule::new("monthly", keep.monthly, |t| {
            i64::from(t.year()) * 100 + i64::from(t.month())
        }),
    ];
    let mut decisions: Vec<Decision> = Vec::with_capacity(sorted.len());
    for (index, b) in sorted.iter().enumerate() {
        let mut reasons = Vec::new();
        if b.time > now {
            // A clock that jumped: never delete what we cannot place in time.
            reasons.push("future");
        } else {
            for rule in &mut rules {
                if rule.takes(b.time, index) {
                    reasons.push(rule.name);
                }
            }
        }
        decisions.push(Decision {
            id: b.id.to_string(),
            keep: !reasons.is_empty(),
            reasons,
        });
    }
    keep_newest_verified(&sorted, &mut decisions);
    Ok(decisions)
}

/// When nothing kept is verified, keep the newest verified backup as well.
fn keep_newest_verified(sorted: &[&Candidate], decisions: &mut [Decision]) {
    let kept_verified = sorted
        .iter()
        .zip(decisions.iter())
        .any(|(b, d)| d.keep && b.verified);
    if kept_verified {
        return;
    }
    if let Some(i) = sorted.iter().position(|b| b.verified) {
        decisions[i].keep = true;
        decisions[i].reasons.push("verified");
    }
}

/// One `keep` rule: how many periods it keeps, and the period a time falls in.
struct Rule {
    name: &'static str,
    left: u32,
    period: fn(DateTime<Utc>) -> i64,
    last_period: Option<i64>,
}

impl Rule {
    fn new(name: &'static str, count: u32, period: fn(DateTime<Utc>) -> i64) -> Rule {
        Rule {
            name,
            left: count,
            period,
            last_period: None,
        }
    }

    /// Whether this rule keeps the next backup (newest first). `last` counts backups, not
    /// seconds: two backups in one second are two backups.
    fn takes(&mut self, time: DateTime<Utc>, index: usize) -> bool {
        if self.left == 0 {
            return false;
        }
        let period = if self.name == "last" {
            index as i64
        } else {
            (self.period)(time)
        };
        if self.last_period == Some(period) {
            return false;
        }
        self.last_period = Some(period);
        self.left -= 1;
        true
    }
}
