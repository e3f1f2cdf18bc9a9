//! Standard output for the command line: a reader that goes away ends the
//! output, and a full or broken stdout is an error the caller can report.
//!
//! `faultlab list | head` closes the pipe after ten lines; the rest of the
//! output is dropped quietly (no panic, the command finishes and keeps its
//! exit code). Any other write error (`> /dev/full`) is kept, the rest of
//! the output is dropped too, and [`finish`] returns the error so the CLI
//! exits 2 with a message on stderr.

use std::io::{self, Write};
use std::sync::Mutex;

/// What has gone wrong with stdout so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Writing works.
    Open,
    /// The reader closed the pipe: drop the rest quietly.
    Closed,
    /// Another error (e.g. the disk is full): drop the rest, report it.
    Failed(io::ErrorKind),
}

static STATE: Mutex<State> = Mutex::new(State::Open);

/// Writes `bytes` to stdout, unless stdout has already failed.
pub fn print_bytes(bytes: &[u8]) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if *state != State::Open {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(bytes) {
        *state = classify(&e);
    }
}

/// Flushes stdout; returns the error if any write failed other than by the
/// reader closing the pipe.
pub fn finish() -> io::Result<()> {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if *state == State::Open {
        if let Err(e) = io::stdout().lock().flush() {
            *state = classify(&e);
        }
    }
    match *state {
        State::Open | State::Closed => Ok(()),
        State::Failed(kind) => Err(io::Error::new(kind, describe(kind))),
    }
}

/// Stdout as a [`Write`] through [`print_bytes`]: writes never fail; a
/// failure is kept for [`finish`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        print_bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn classify(e: &io::Error) -> State {
    match e.kind() {
        io::ErrorKind::BrokenPipe => State::Closed,
        kind => State::Failed(kind),
    }
}

fn describe(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::StorageFull => "no space left on the device".to_string(),
        other => other.to_string(),
    }
}
