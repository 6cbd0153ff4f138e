//! pvaultd socket protocol (placeholder).
