//! The `faultlab` binary: the command line ([`faultlab::cli`]) with the
//! built-in models.

use std::process::ExitCode;

/// mimalloc, not the system's allocator: a run allocates and frees small
/// values (records, history events, messages) by the hundred thousand,
/// and mimalloc does that in fewer instructions than glibc's malloc
/// (`bench_raft`: about 11% more seeds per second). Nothing in a run
/// depends on addresses, so the allocator cannot change a trace hash.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    faultlab::cli::main(faultlab::Registry::builtin())
}
