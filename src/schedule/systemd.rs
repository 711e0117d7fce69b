//! `dbenv schedule --print-systemd`: the same schedule as systemd service and timer units,
//! for those who prefer systemd to a foreground scheduler. A cron expression becomes an
//! `OnCalendar=` line where systemd can say the same thing, and a clear "cannot" where it
//! cannot (`L`, `W`, `#`, or both day fields set: cron runs when either matches, systemd
//! only when both do).

use std::path::{Path, PathBuf};

use super::{Job, JobKind};
use crate::config::Config;

/// Where the units point: the dbenv binary and the project's configuration.
#[derive(Debug, Clone)]
pub struct Context {
    pub exe: PathBuf,
    pub config: PathBuf,
}

/// The units to install, and the schedules that could not be translated.
#[derive(Debug, Clone, Default)]
pub struct Units {
    /// (file name, content), service before timer.
    pub files: Vec<(String, String)>,
    pub untranslated: Vec<String>,
}

/// Units for `jobs` of the project `config`.
pub fn units(config: &Config, jobs: &[Job], cx: &Context) -> Units {
    let mut out = Units::default();
    for job in jobs {
        let name = unit_name(job);
        out.files
            .push((format!("{name}.service"), service(config, job, cx)));
        let tz = job.plan.tz().name().to_string();
        let calendar = on_calendar(job.plan.text(), &tz);
        if let Err(why) = &calendar {
            out.untranslated.push(format!(
                "{name}.timer: cron \"{}\" cannot be written as OnCalendar: {why}",
                job.plan.text()
            ));
        }
        out.files
            .push((format!("{name}.timer"), timer(job, &name, &calendar)));
    }
    out
}

/// `dbenv-backup-prod`, `dbenv-drill-prod` (characters systemd does not allow escaped).
pub fn unit_name(job: &Job) -> String {
    let mut env = String::new();
    for b in job.env.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b':' => {
                env.push(b as char)
            }
            other => env.push_str(&format!("\\x{other:02x}")),
        }
    }
    format!("dbenv-{}-{env}", job.kind.as_str())
}

fn service(config: &Config, job: &Job, cx: &Context) -> String {
    let env = &job.env;
    let backup = config.envs.get(env).and_then(|e| e.backup.as_ref());
    let mut base = vec![
        quote(&cx.exe.display().to_string()),
        "--config".into(),
        quote(&cx.config.display().to_string()),
    ];
    if job.production {
        base.extend(["--log-format".into(), "json".into()]);
    }
    let base = base.join(" ");
    let env_q = quote(env);
    let mut exec = Vec::new();
    match job.kind {
        JobKind::Backup => {
            exec.push(format!("{base} backup {env_q}"));
            if backup.is_none_or(|b| b.verify) {
                exec.push(format!("{base} backup verify latest --env {env_q}"));
            }
            if backup.is_none_or(|b| b.prune) {
                exec.push(format!("{base} backup prune {env_q} --yes"));
            }
        }
        JobKind::Drill => exec.push(format!("{base} backup verify latest --env {env_q}")),
    }
    let what = match job.kind {
        JobKind::Backup => format!("backup of env {env}"),
        JobKind::Drill => format!("restore drill (verify the newest backup) of env {env}"),
    };
    let mut s = format!(
        "[Unit]\nDescription=dbenv {what}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nWorkingDirectory={}\n",
        quote(&root(&cx.config).display().to_string())
    );
    s.push_str(
        "# Variables that dbenv.toml takes from the environment (${VAR}) go in an\n# EnvironmentFile= readable only by this service; a .env beside dbenv.toml is read by dbenv.\n",
    );
    for line in exec {
        s.push_str(&format!("ExecStart={line}\n"));
    }
    s
}

fn root(config: &Path) -> PathBuf {
    config.parent().unwrap_or(Path::new("/")).to_path_buf()
}

fn timer(job: &Job, name: &str, calendar: &Result<String, String>) -> String {
    let mut s = format!(
        "[Unit]\nDescription=Schedule of {name}.service (cron \"{}\", {})\n\n[Timer]\n",
        escape(job.plan.text()),
        job.plan.tz().name()
    );
    match calendar {
        Ok(c) => s.push_str(&format!("OnCalendar={c}\n")),
        Err(why) => s.push_str(&format!(
            "# dbenv: cron \"{}\" cannot be written as OnCalendar ({why}).\n# Write an equivalent by hand (see systemd.time(7)), or run `dbenv schedule` instead.\n#OnCalendar=\n",
            escape(job.plan.text())
        )),
    }
    if calendar.is_ok() && has_seconds(job) {
        s.push_str("AccuracySec=1s\n");
    }
    // catch_up = true: a run missed while the machine was off happens at boot.
    s.push_str(&format!(
        "Persistent={}\nUnit={name}.service\n\n[Install]\nWantedBy=timers.target\n",
        job.catch_up
    ));
    s
}

fn has_seconds(job: &Job) -> bool {
    job.plan.text().split_whitespace().count() == 6
}

/// A word for an `ExecStart=` line: double-quoted when it holds spaces or quotes.
fn quote(word: &str) -> String {
    let word = escape(word);
    if word.is_empty() || word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word
    }
}

/// `%` and `$` are specifiers and variables in unit files.
fn escape(text: &str) -> String {
    text.replace('%', "%%").replace('$', "$$")
}

/// The `OnCalendar=` value for `cron` read in time zone `tz`.
///
/// ```
/// use dbenv::schedule::systemd::on_calendar;
/// assert_eq!(on_calendar("0 3 * * *", "UTC").unwrap(), "*-*-* 03:00:00 UTC");
/// assert_eq!(on_calendar("*/15 9-17 * * 1-5", "Europe/Paris").unwrap(),
///            "Mon..Fri *-*-* 09..17:00/15:00 Europe/Paris");
/// assert!(on_calendar("0 3 L * *", "UTC").is_err());
/// ```
pub fn on_calendar(cron: &str, tz: &str) -> Result<String, String> {
    let expanded = nickname(cron)?;
    let mut fields: Vec<String> = expanded
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    if fields.len() == 5 {
        fields.insert(0, "0".into());
    }
    let [sec, min, hour, dom, month, dow] = <[String; 6]>::try_from(fields)
        .map_err(|f| format!("expected 5 or 6 fields, found {}", f.len()))?;
    let wild = |f: &str| f == "*" || f == "?";
    if !wild(&dom) && !wild(&dow) {
        return Err("both day-of-month and day-of-week are set: cron runs when either matches, OnCalendar only when both do".into());
    }
    let month = names_to_numbers(&month, &MONTHS, 1);
    let date = format!(
        "*-{}-{}",
        field(&month, 1, 12, "month")?,
        field(&dom, 1, 31, "day-of-month")?
    );
    let time = format!(
        "{}:{}:{}",
        field(&hour, 0, 23, "hour")?,
        field(&min, 0, 59, "minute")?,
        field(&sec, 0, 59, "second")?
    );
    let days = weekdays(&dow)?;
    let prefix = if days.is_empty() {
        String::new()
    } else {
        format!("{days} ")
    };
    Ok(format!("{prefix}{date} {time} {tz}"))
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const SYSTEMD_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn nickname(cron: &str) -> Result<String, String> {
    let c = cron.trim().to_ascii_lowercase();
    if !c.starts_with('@') {
        return Ok(cron.trim().to_string());
    }
    Ok(match c.as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => return Err(format!("{other} has no OnCalendar equivalent")),
    }
    .to_string())
}

fn names_to_numbers(field: &str, names: &[&str], first: usize) -> String {
    let mut out = field.to_string();
    for (i, name) in names.iter().enumerate() {
        out = out.replace(name, &(i + first).to_string());
    }
    out
}

/// One numeric field: `*`, values, `a-b` ranges and `/n` steps; two digits.
fn field(f: &str, lo: u32, hi: u32, what: &str) -> Result<String, String> {
    if f == "*" || f == "?" {
        return Ok("*".into());
    }
    if f.contains(['L', 'W', '#']) {
        return Err(format!("the {what} field \"{f}\" uses L, W or #"));
    }
    let num = |s: &str| -> Result<u32, String> {
        s.parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| format!("the {what} field \"{f}\" is not understood"))
    };
    let mut items = Vec::new();
    for item in f.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(num_any(s, what, f)?)),
            None => (item, None),
        };
        let mut text = match range.split_once('-') {
            _ if range == "*" => format!("{lo:02}"),
            Some((a, b)) => format!("{:02}..{:02}", num(a)?, num(b)?),
            None => format!("{:02}", num(range)?),
        };
        if let Some(step) = step {
            text.push_str(&format!("/{step}"));
        }
        items.push(text);
    }
    Ok(items.join(","))
}

fn num_any(s: &str, what: &str, f: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("the {what} field \"{f}\" has a bad step"))
}

/// The day-of-week field as systemd weekday names (empty for every day).
fn weekdays(f: &str) -> Result<String, String> {
    if f == "*" || f == "?" {
        return Ok(String::new());
    }
    if f.contains(['L', '#', 'W']) {
        return Err(format!("the day-of-week field \"{f}\" uses L, W or #"));
    }
    let f = names_to_numbers(f, &DAYS, 0);
    let bad = || format!("the day-of-week field \"{f}\" is not understood");
    let day = |s: &str| s.parse::<usize>().ok().filter(|d| *d <= 7).ok_or_else(bad);
    let mut on = [false; 7];
    for item in f.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(bad)?,
            ),
            None => (item, 1),
        };
        let (a, b) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => (day(a)?, day(b)?),
            None if step > 1 => (day(range)?, 6),
            None => (day(range)?, day(range)?),
        };
        if a > b {
            return Err(bad());
        }
        for d in (a..=b).step_by(step) {
            on[d % 7] = true;
        }
    }
    Ok(day_list(&on))
}

/// Days Monday first (systemd's week), runs of three or more as `Mon..Fri`.
fn day_list(on: &[bool; 7]) -> String {
    let order = [1, 2, 3, 4, 5, 6, 0];
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 7 {
        if !on[order[i]] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < 7 && on[order[i + 1]] {
            i += 1;
        }
        let (a, b) = (SYSTEMD_DAYS[order[start]], SYSTEMD_DAYS[order[i]]);
        match i - start {
            0 => parts.push(a.to_string()),
            1 => parts.push(format!("{a},{b}")),
            _ => parts.push(format!("{a}..{b}")),
        }
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_expressions_translate() {
        let cases = [
            ("0 3 * * *", "*-*-* 03:00:00 UTC"),
            ("*/15 * * * *", "*-*-* *:00/15:00 UTC"),
            ("30 2 * * 1-5", "Mon..Fri *-*-* 02:30:00 UTC"),
            ("0 5 * * 0", "Sun *-*-* 05:00:00 UTC"),
            ("0 5 * * SAT,SUN", "Sat,Sun *-*-* 05:00:00 UTC"),
            ("0 0 1 */3 *", "*-01/3-01 00:00:00 UTC"),
            ("0 0 1,15 jan-jun *", "*-01..06-01,15 00:00:00 UTC"),
            ("*/10 * * * * *", "*-*-* *:*:00/10 UTC"),
            ("@daily", "*-*-* 00:00:00 UTC"),
            ("@weekly", "Sun *-*-* 00:00:00 UTC"),
            ("0 9-17/2 * * *", "*-*-* 09..17/2:00:00 UTC"),
        ];
        for (cron, want) in cases {
            assert_eq!(on_calendar(cron, "UTC").as_deref(), Ok(want), "{cron}");
        }
    }

    #[test]
    fn what_systemd_cannot_say_is_refused_with_the_reason() {
        for (cron, why) in [
            ("0 3 L * *", "L, W or #"),
            ("0 3 * * 5#2", "L, W or #"),
            ("0 3 1 * 1", "either matches"),
            ("@reboot", "no OnCalendar"),
        ] {
            let err = on_calendar(cron, "UTC").unwrap_err();
            assert!(err.contains(why), "{cron}: {err}");
        }
    }
}
