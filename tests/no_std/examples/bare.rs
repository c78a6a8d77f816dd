//! A program with neither `std` nor an allocator that runs every embedded network: if any
//! crate under `dl` needed `std`, its panic handler would clash with ours; if any needed an
//! allocator, linking would fail. Built by `.ci/run`:
//!
//! ```sh
//! RUSTFLAGS="-C panic=abort" cargo run -p dl-no-std-check --example bare --features bare \
//!     --release --target x86_64-unknown-linux-gnu
//! ```
#![no_std]
#![no_main]

use core::panic::PanicInfo;

// The C library provides the process entry and `write`; nothing of Rust's `std`.
#[link(name = "c")]
unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

fn say(s: &str) {
    // SAFETY: `s` is a valid buffer of `s.len()` bytes for the duration of the call.
    unsafe { write(1, s.as_ptr(), s.len()) };
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    say("panic\n");
    loop {}
}

/// The precompiled `core` is built for unwinding and names this symbol; with `panic=abort`
/// nothing calls it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    // Twenty-seven networks (eight of them branching, two residual) ending in softmax or
    // sigmoid: outputs sum to 24 softmax heads (1 each) plus three sigmoid units in (0, 1).
    match dl_no_std_check::run_all() {
        Some(total) if total.is_finite() && total > 24.0 && total < 27.0 => {
            say("no_std: 27 embedded networks ran, residual ones among them\n");
            0
        }
        _ => {
            say("no_std: unexpected outputs\n");
            1
        }
    }
}
