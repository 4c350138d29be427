//! trilink captures (work in progress).
#![forbid(unsafe_code)]
