//! A progress bar for seeding, drawn on stderr only when it is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar(ProgressBar);

impl dbenv::seed::Progress for Bar {
    fn start(&self, estimated_rows: u64) {
        self.0.set_length(estimated_rows);
    }

    fn advance(&self, table: &str, rows: u64) {
        self.0.set_message(table.to_string());
        self.0.inc(rows);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// A bar when stderr is a terminal and output is not quietened; none otherwise.
pub fn bar(quiet: bool) -> Option<Arc<dyn dbenv::seed::Progress>> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} seeding {msg:<16} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
    )
    .expect("valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    Some(Arc::new(Bar(bar)))
}
