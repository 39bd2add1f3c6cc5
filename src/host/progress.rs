//! The training loop's progress line: `epoch 3/20 [=====>    ] 180/375 loss 0.4123 …`,
//! redrawn in place on a terminal's standard error.
//!
//! It writes nothing when standard error is not a terminal (a log file, a pipe, a test), and
//! redraws at most ten times a second, so a fast loop spends no time on it.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Width in characters of the bar between the brackets.
const BAR: usize = 30;
/// The least time between two redraws.
const REDRAW: Duration = Duration::from_millis(100);

/// One epoch's progress line, counting steps up to a known total.
#[derive(Debug)]
pub struct Progress {
    prefix: String,
    total: usize,
    done: Cell<usize>,
    message: RefCell<String>,
    last_draw: Cell<Option<Instant>>,
}

impl Progress {
    /// A line for `steps` steps of epoch `epoch` of `epochs`.
    pub fn new(steps: usize, epoch: usize, epochs: usize) -> Progress {
        Progress {
            prefix: format!("epoch {epoch}/{epochs}"),
            total: steps,
            done: Cell::new(0),
            message: RefCell::new(String::new()),
            last_draw: Cell::new(None),
        }
    }

    /// Counts `n` more steps done and redraws if the last redraw is old enough.
    pub fn inc(&self, n: usize) {
        self.done.set((self.done.get() + n).min(self.total));
        let due = self.last_draw.get().is_none_or(|t| t.elapsed() >= REDRAW);
        if due || self.done.get() == self.total {
            self.draw();
        }
    }

    /// Sets the text shown after the counts (loss, speed).
    pub fn set_message(&self, message: String) {
        *self.message.borrow_mut() = message;
    }

    /// Erases the line, leaving the cursor at the start of it.
    pub fn finish_and_clear(self) {
        if self.last_draw.get().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    /// The line as it is now drawn.
    pub fn line(&self) -> String {
        let (done, total) = (self.done.get(), self.total);
        let filled = (done * BAR).checked_div(total).unwrap_or(BAR);
        let mut bar = vec![b' '; BAR];
        bar[..filled].fill(b'=');
        if filled < BAR {
            bar[filled] = b'>';
        }
        let bar = String::from_utf8(bar).unwrap_or_default();
        format!(
            "{} [{bar}] {done}/{total} {}",
            self.prefix,
            self.message.borrow()
        )
    }

    fn draw(&self) {
        self.last_draw.set(Some(Instant::now()));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", self.line());
        let _ = err.flush();
    }
}

/// The progress line of an epoch if `on` and standard error is a terminal.
pub(crate) fn progress_bar(
    on: bool,
    steps: usize,
    epoch: usize,
    epochs: usize,
) -> Option<Progress> {
    (on && std::io::stderr().is_terminal()).then(|| Progress::new(steps, epoch, epochs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_the_share_done() {
        let p = Progress::new(4, 2, 5);
        assert_eq!(p.line(), format!("epoch 2/5 [>{}] 0/4 ", " ".repeat(29)));
        p.done.set(1);
        p.set_message("loss 0.5".into());
        assert_eq!(
            p.line(),
            format!(
                "epoch 2/5 [{}>{}] 1/4 loss 0.5",
                "=".repeat(7),
                " ".repeat(22)
            )
        );
        p.done.set(4);
        assert_eq!(
            p.line(),
            format!("epoch 2/5 [{}] 4/4 loss 0.5", "=".repeat(30))
        );
        // No steps at all: a full bar, no division by zero.
        assert!(Progress::new(0, 1, 1).line().contains(&"=".repeat(30)));
    }
}
