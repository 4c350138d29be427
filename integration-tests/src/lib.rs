//! Helpers for trilink's integration tests: launching real broker processes on free loopback
//! ports and stopping them by PID.
//!
//! Not built yet: see issue 4.

#![forbid(unsafe_code)]
