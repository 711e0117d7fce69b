//! When a job runs: a cron expression (croner; 5 fields, or 6 with seconds first) read in
//! a time zone (chrono-tz; UTC when none is set), its next times, and the run missed while
//! no scheduler was running.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed schedule: the expression, as written, and the time zone it is read in.
///
/// ```
/// use dbenv::schedule::Plan;
/// let plan = Plan::new("0 3 * * *", Some("Europe/Paris")).unwrap();
/// let t = "2026-01-10T12:00:00Z".parse().unwrap();
/// // 03:00 in Paris is 02:00 UTC in winter.
/// assert_eq!(plan.next_after(t).unwrap().to_rfc3339(), "2026-01-11T02:00:00+00:00");
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    text: String,
    cron: Cron,
    tz: Tz,
}

/// Parse a cron expression: 5 fields (`minute hour day-of-month month day-of-week`), 6 with
/// seconds first, or a nickname (`@daily`, `@hourly`, …). The error says what is wrong,
/// without the "croner" vocabulary.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let fields = text.split_whitespace().count();
    if !text.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), found {fields}"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| {
            let e = e.to_string();
            let e = e.trim_end_matches('.');
            let mut chars = e.chars();
            chars.next().map_or(String::new(), |c| {
                c.to_lowercase().chain(chars).collect::<String>()
            })
        })
}

/// Parse an IANA time zone name (`Europe/Paris`, `UTC`).
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| {
        "unknown time zone (use an IANA name such as \"UTC\", \"Europe/Paris\" or \"America/New_York\")".to_string()
    })
}

impl Plan {
    /// A plan for `cron` read in time zone `tz` (UTC when `None`).
    pub fn new(cron: &str, tz: Option<&str>) -> Result<Plan, String> {
        Ok(Plan {
            text: cron.trim().to_string(),
            cron: parse_cron(cron)?,
            tz: tz.map(parse_tz).transpose()?.unwrap_or(Tz::UTC),
        })
    }

    /// The cron expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first scheduled time strictly after `t`; `None` for an expression that never
    /// matches again (such as February 30).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|n| n.with_timezone(&Utc))
    }

    /// The latest scheduled time missed between the last recorded run (`last`, when it
    /// ended) and `now`: the slot a catch-up run stands for.
    pub fn missed(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let first = self.next_after(last)?;
        if first > now {
            return None;
        }
        let local = now.with_timezone(&self.tz);
        let latest = self
            .cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|p| p.with_timezone(&Utc))
            .filter(|p| *p >= first);
        Some(latest.unwrap_or(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn five_and_six_fields_and_nicknames() {
        let daily = Plan::new("0 3 * * *", None).unwrap();
        assert_eq!(
            daily.next_after(at("2026-03-01T03:00:00Z")),
            Some(at("2026-03-02T03:00:00Z"))
        );
        let seconds = Plan::new("*/2 * * * * *", None).unwrap();
        assert_eq!(
            seconds.next_after(at("2026-03-01T03:00:01Z")),
            Some(at("2026-03-01T03:00:02Z"))
        );
        let hourly = Plan::new("@hourly", None).unwrap();
        assert_eq!(
            hourly.next_after(at("2026-03-01T03:10:00Z")),
            Some(at("2026-03-01T04:00:00Z"))
        );
    }

    #[test]
    fn time_zones_move_the_slot_and_follow_daylight_saving() {
        let paris = Plan::new("0 3 * * *", Some("Europe/Paris")).unwrap();
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            paris.next_after(at("2026-01-10T12:00:00Z")),
            Some(at("2026-01-11T02:00:00Z"))
        );
        assert_eq!(
            paris.next_after(at("2026-07-10T12:00:00Z")),
            Some(at("2026-07-11T01:00:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_say_why() {
        assert!(parse_cron("0 3 * *").unwrap_err().contains("5 fields"));
        assert!(
            parse_cron("0 0 3 * * * 2026")
                .unwrap_err()
                .contains("found 7")
        );
        assert!(parse_cron("61 3 * * *").is_err());
        assert!(parse_cron("0 3 * * funday").is_err());
        assert!(parse_tz("Europe/Pariss").unwrap_err().contains("IANA"));
        assert!(parse_tz("UTC").is_ok());
    }

    #[test]
    fn a_missed_run_is_the_latest_slot_between_the_last_run_and_now() {
        let daily = Plan::new("0 3 * * *", None).unwrap();
        // Last run yesterday at 03:00, now 10:00: today's 03:00 was missed.
        assert_eq!(
            daily.missed(at("2026-03-01T03:00:05Z"), at("2026-03-02T10:00:00Z")),
            Some(at("2026-03-02T03:00:00Z"))
        );
        // Down for three days: one catch-up, for the latest slot.
        assert_eq!(
            daily.missed(at("2026-03-01T03:00:05Z"), at("2026-03-04T10:00:00Z")),
            Some(at("2026-03-04T03:00:00Z"))
        );
        // Today's run happened: nothing missed.
        assert_eq!(
            daily.missed(at("2026-03-02T03:00:05Z"), at("2026-03-02T10:00:00Z")),
            None
        );
        // Down overnight but back before 03:00: nothing missed.
        assert_eq!(
            daily.missed(at("2026-03-01T03:00:05Z"), at("2026-03-02T02:59:00Z")),
            None
        );
    }
}
