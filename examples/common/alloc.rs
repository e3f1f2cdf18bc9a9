//! The benchmarks' memory allocator: the one the `faultlab` binary uses
//! (mimalloc; see src/main.rs), so a benchmark measures what the binary does.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
