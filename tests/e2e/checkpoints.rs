//! Checkpoints while a Playwright script runs (issue 5): they must not disturb it.
