//! Browser driving over CDP (placeholder).
