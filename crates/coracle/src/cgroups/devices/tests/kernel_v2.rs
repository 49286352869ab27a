//! v2 kernel tests (placeholder).
