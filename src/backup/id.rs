//! Backup ids: `20261124T031500Z-a1b2`, the UTC start time (so ids sort by time) and four
//! random hex digits (so two backups in the same second never collide). Ids typed by users
//! are validated strictly before they come near a path or an object key.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use rand::RngExt;

use crate::error::Error;

const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The id of one backup; only ever holds a well-formed id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId(String);

impl BackupId {
    /// A new id for a backup started at `at`.
    pub fn new(at: DateTime<Utc>) -> BackupId {
        let suffix: u16 = rand::rng().random();
        BackupId(format!("{}-{suffix:04x}", at.format(TIME_FORMAT)))
    }

    /// Check an id given by a user (or read from a file name): exactly
    /// `YYYYMMDDTHHMMSSZ-hhhh`, nothing else, so it can never name another path.
    pub fn parse(text: &str) -> Result<BackupId, Error> {
        let bad = |why: &str| {
            Error::Unsupported(format!(
                "invalid backup id {text:?}: {why}; ids look like 20261124T031500Z-a1b2 (see `dbenv backup list`)"
            ))
        };
        if text.contains('/') || text.contains('\\') || text.contains("..") {
            return Err(bad("it may not contain a path"));
        }
        let Some((time, suffix)) = text.split_once('-') else {
            return Err(bad("it has no `-`"));
        };
        if suffix.len() != 4
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("it must end with 4 lowercase hex digits"));
        }
        if time.len() != 16 || NaiveDateTime::parse_from_str(time, TIME_FORMAT).is_err() {
            return Err(bad("it must start with a UTC time like 20261124T031500Z"));
        }
        Ok(BackupId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The time in the id (the backup's start, to the second).
    pub fn time(&self) -> DateTime<Utc> {
        let time = &self.0[..16];
        NaiveDateTime::parse_from_str(time, TIME_FORMAT)
            .map(|t| t.and_utc())
            .unwrap_or_default()
    }

    /// The id as a database-name fragment: `20261124t031500z_a1b2`.
    pub fn as_identifier(&self) -> String {
        self.0.to_ascii_lowercase().replace('-', "_")
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_and_sort_by_time() {
        let a = BackupId::new("2026-11-24T03:15:00Z".parse().unwrap());
        let b = BackupId::new("2026-11-24T03:15:01Z".parse().unwrap());
        assert!(a.as_str().starts_with("20261124T031500Z-"));
        assert_eq!(BackupId::parse(a.as_str()).unwrap(), a);
        assert!(a < b);
        assert_eq!(a.time().to_rfc3339(), "2026-11-24T03:15:00+00:00");
    }

    #[test]
    fn bad_ids_are_refused_with_the_reason() {
        for (id, why) in [
            ("../etc", "path"),
            ("x/y", "path"),
            ("20261124T031500Z-a1b2/..", "path"),
            ("20261124T031500Z-A1B2", "hex"),
            ("20261124T031500Z-a1b", "hex"),
            ("20261124X031500Z-a1b2", "UTC time"),
            ("20261399T031500Z-a1b2", "UTC time"),
            ("", "no `-`"),
        ] {
            let e = BackupId::parse(id).unwrap_err().to_string();
            assert!(e.contains(why), "{id}: {e}");
            assert_eq!(BackupId::parse(id).unwrap_err().exit_code(), 2);
        }
    }
}
