//! Small helpers shared by several modules.

/// Serialise a `Duration` as whole milliseconds (for `--json` output).
pub mod duration_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// A short stable id of this machine (6 hex digits), for names of things a run leaves on
/// a shared server: only the machine that made them can tell whether their process is gone.
pub(crate) fn host_id() -> String {
    use sha2::{Digest, Sha256};
    let id = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_default();
    hex::encode(&Sha256::digest(id.trim().as_bytes())[..3])
}

/// "did you mean …?" for a misspelt name, or `None` when nothing is close.
pub fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// A duration the way dbenv.toml writes it: `500ms`, `10s`, `5min`, `2h`.
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if !ms.is_multiple_of(1000) => format!("{ms}ms"),
        _ if ms.is_multiple_of(3_600_000) && ms > 0 => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) && ms > 0 => format!("{}min", ms / 60_000),
        _ => format!("{}s", ms / 1000),
    }
}
