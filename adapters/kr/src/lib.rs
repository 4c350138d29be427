//! trilink KR reference national format (sans-IO codec and translation).
//!
//! Not built yet: see issue 3. This crate must never do I/O.

#![forbid(unsafe_code)]
