//! How results reach the user: JSON documents for scripts (`--json`), aligned tables and
//! short lines for people, and a spinner on stderr for slow work.
//!
//! Data goes to stdout, everything else (spinner, notices, errors) to stderr, so that
//! `pvault --json … | jq` and `pvault profile export … > f` always get clean data.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;

use crate::exit::{CliError, CliResult};

/// `1 cookie`, `2 cookies`, `0 cookies`: a count with its noun, pluralized with `s`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The output mode chosen on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json` was given.
    pub json: bool,
}

impl Output {
    /// Prints `value` as one pretty-printed JSON document on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> CliResult {
        let mut text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::other(format!("cannot encode the result as JSON: {e}")))?;
        text.push('\n');
        write_stdout(text.as_bytes())
    }

    /// Prints a line for people on stdout (used only when not `--json`).
    pub fn line(&self, text: impl AsRef<str>) -> CliResult {
        let mut s = text.as_ref().to_owned();
        s.push('\n');
        write_stdout(s.as_bytes())
    }

    /// Starts a spinner on stderr if stderr is a terminal and the output is not JSON;
    /// otherwise a no-op. The spinner disappears when the guard drops.
    pub fn spinner(&self, message: &str) -> Spinner {
        if self.json || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_message(message.to_owned());
        // Draw now: short operations would otherwise end before the first tick.
        bar.tick();
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }
}

/// Writes to stdout; a closed pipe (`pvault … | head`) is not an error worth reporting.
pub fn write_stdout(bytes: &[u8]) -> CliResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::other(format!("cannot write to stdout: {e}"))),
    }
}

/// A running spinner; cleared on drop.
#[derive(Debug)]
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// A plain text table: a header row, then rows, columns padded to the widest cell.
#[derive(Debug)]
pub struct Table {
    /// Column titles.
    header: Vec<String>,
    /// Cells, one `Vec` per row, as many cells as `header`.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| (*s).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table; the last column is not padded (no trailing spaces).
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(cols) {
                if i + 1 == cols {
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` UTC (no timezone database needed).
pub fn format_time(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The first 8 hex digits of a 32-digit id, enough to tell snapshots apart on screen.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_known_instants() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_time(1_795_318_533_123), "2026-11-22 03:35:33");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let mut t = Table::new(&["NAME", "N"]);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["longer".into(), "22".into()]);
        assert_eq!(t.render(), "NAME    N\na       1\nlonger  22\n");
    }
}
