//! trilink broker configuration and launcher.
//!
//! Not built yet: see issue 4.

#![forbid(unsafe_code)]
