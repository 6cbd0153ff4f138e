//! pvaultd library (placeholder).
