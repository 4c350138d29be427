//! trilink hub relay and routing-policy engine.
//!
//! Not built yet: see issue 5.

#![forbid(unsafe_code)]
