//! The `faultlab` binary: the command line ([`faultlab::cli`]) with the
//! built-in models.

use std::process::ExitCode;

fn main() -> ExitCode {
    faultlab::cli::main(faultlab::Registry::builtin())
}
