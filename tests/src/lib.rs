//! see tests/
