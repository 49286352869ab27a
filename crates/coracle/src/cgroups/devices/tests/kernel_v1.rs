//! v1 kernel tests (placeholder).
