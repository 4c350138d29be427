//! placeholder, replaced in the bench commit
fn main() {}
