//! Compile-fail snapshots of every mistake `network!` and the types catch.
//!
//! The `.stderr` files are rustc's exact output, so they are pinned to the one toolchain this
//! project builds with.

#[rustversion::attr(not(stable(1.95)), ignore = "error snapshots are pinned to Rust 1.95")]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
