//! Headful sessions under Xvfb (issue 5): a person closing the last window ends a `--save`
//! session with its latest state saved.
