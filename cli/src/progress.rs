//! Progress of long operator commands (replays): a bar redrawn in place on a terminal,
//! one line per step in a log.

use std::io::IsTerminal;

pub struct Progress {
    terminal: bool,
    drawn: bool,
}

impl Progress {
    /// Draws on stderr, so that stdout keeps only the command's result.
    pub fn new() -> Self {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// Shows `done` of `total`, then `what` (the item just handled); nothing with `-q`.
    pub fn show(&mut self, done: usize, total: usize, what: &str) {
        if crate::commands::output::quiet() {
            return;
        }
        let line = format!("{} {what}", bar(done, total, 30));
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the bar's line, if one was drawn.
    pub fn finish(&mut self) {
        if std::mem::take(&mut self.drawn) {
            eprintln!();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// A text progress bar, e.g. `[########------------] 8/20`.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done.min(total) * width)
        .checked_div(total)
        .unwrap_or(width);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        "-".repeat(width - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn the_bar_fills_with_progress() {
        assert_eq!(bar(0, 4, 8), "[--------] 0/4");
        assert_eq!(bar(1, 4, 8), "[##------] 1/4");
        assert_eq!(bar(4, 4, 8), "[########] 4/4");
        assert_eq!(bar(0, 0, 8), "[########] 0/0");
    }
}
