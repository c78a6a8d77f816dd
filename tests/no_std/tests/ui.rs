//! Compile-fail cases that only exist without `dl`'s `std` feature. trybuild builds them in its
//! own project with this crate's dependencies, so `dl` is `#![no_std]` there even though the
//! workspace's other members turn `std` on.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
