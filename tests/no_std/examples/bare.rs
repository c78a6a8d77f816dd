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

dl_no_std_check::bare_program!(|| {
    // Twenty-eight networks (eight of them branching, two residual) ending in softmax or
    // sigmoid: outputs sum to 25 softmax heads (1 each) plus three sigmoid units in (0, 1).
    match dl_no_std_check::run_all() {
        Some(total) if total.is_finite() && total > 25.0 && total < 28.0 => {
            say("no_std: 28 embedded networks ran, residual ones among them\n");
        }
        _ => {
            say("no_std: unexpected outputs\n");
            return 1;
        }
    }
    // The MLPerf Tiny models: three softmax heads and a finite reconstruction.
    match dl_no_std_check::run_mlperf_tiny() {
        (total, true) if (total - 3.0).abs() < 1e-4 => {
            say("no_std: the four MLPerf Tiny models ran (DS-CNN, MobileNetV1, ResNet-8, autoencoder)\n");
            0
        }
        _ => {
            say("no_std: unexpected MLPerf Tiny outputs\n");
            1
        }
    }
});
