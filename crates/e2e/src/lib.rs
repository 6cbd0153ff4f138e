//! Holds the end-to-end suites in `tests/` at the repository root; no library code.
