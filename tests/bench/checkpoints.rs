//! Checkpoint cost (issue 5). Placeholder: filled in by the benchmark work.
fn main() {}
