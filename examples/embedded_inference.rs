//! The tutorial MLP trained by `train_and_save`, compiled into this binary: the weight file is
//! read and checked by `network!` at build time (a wrong name, shape or dtype does not compile),
//! the parameters are constant data, and `forward` touches neither the heap nor `std` — this
//! program counts allocations around it to show it.
//!
//! ```sh
//! cargo run --release --example train_and_save      # trains and saves, to target/ (see there)
//! cargo run --release --example embedded_inference
//! ```
//!
//! The file compiled in is the committed `examples/models/tutorial_mlp.safetensors`, which
//! `train_and_save` wrote (it says whether its output is still identical).

#[path = "common/tutorial_data.rs"]
mod tutorial_data;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// The tutorial's binary classifier, with the weights `train_and_save` wrote (committed).
    #[weights("models/tutorial_mlp.safetensors")]
    #[budget(max_param_bytes = 20 KiB, max_activation_bytes = 1 KiB)]
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

/// In a `static`: no constructor runs at start-up, the weights are in the binary's read-only data.
static NET: Tutorial = Tutorial::EMBEDDED;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    // The same generator and seed as `train_and_save`: its last 2,000 samples are the test set.
    let (x, y) = tutorial_data::data(10_000, &mut ChaCha8Rng::seed_from_u64(42));
    let (test_x, test_y) = (&x[8_000..], &y[8_000..]);

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut correct = 0;
    for (x, &label) in test_x.iter().zip(test_y) {
        let p = NET.forward(x)[0];
        correct += usize::from((p > 0.5) == (label > 0.5));
    }
    let elapsed = start.elapsed();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;

    println!(
        "embedded network: {} parameters in {} bytes of constant data, {} bytes of stack per forward",
        Tutorial::PARAMS,
        Tutorial::PARAM_BYTES,
        Tutorial::ACTIVATION_BYTES
    );
    println!(
        "{} samples in {:.2?} ({:.3} µs each), heap allocations: {allocations}",
        test_x.len(),
        elapsed,
        elapsed.as_secs_f64() * 1e6 / test_x.len() as f64
    );
    println!("test accuracy: {:.4}", correct as f64 / test_x.len() as f64);
    assert_eq!(allocations, 0, "embedded inference must not allocate");
}
