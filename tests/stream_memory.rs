//! Training on a stream holds a batch and the shuffle buffer, not the data: the heap's peak
//! during `fit_stream` is the same for ten thousand samples as for a million.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dl::data::stream::{self, Source};
use dl::prelude::*;

struct Peak;

thread_local! {
    // Per thread, so that the test harness's other threads do not count.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grow(bytes: isize) {
    let _ = LIVE.try_with(|l| {
        l.set(l.get() + bytes);
        let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
    });
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// The most heap `f` had in use at once beyond what was in use before it.
fn peak_during(f: impl FnOnce()) -> isize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

dl::network! {
    struct Net {
        input: [8],
        Dense(8, relu),
        Dense(1, sigmoid),
    }
}

/// `n` samples computed as they are read, as a file reader reads them.
fn generated(n: usize) -> impl Source<SVector<f32, 8>, f32> {
    stream::iter("generated", move || {
        (0..n).map(|i| {
            let x = SVector::<f32, 8>::from_fn(|r, _| ((i * 31 + r * 7) % 17) as f32 / 17.0);
            (x, f32::from(x[0] > x[1]))
        })
    })
}

fn train(n: usize, buffer: usize) -> isize {
    let mut net = Net::seeded(1);
    let mut source = generated(n).shuffle(buffer);
    peak_during(|| {
        let history = dl::train::fit_stream(
            &mut net,
            &mut source,
            Fit {
                loss: BinaryCrossEntropy::default(),
                optimizer: Adam::default(),
                batch_size: 64,
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap();
        assert!(history.epochs[0].loss.is_finite());
    })
}

#[test]
fn heap_use_depends_on_the_buffer_not_on_the_number_of_samples() {
    const SAMPLE: isize = 9 * 4; // 8 features and a label.
    // A first run pays for what is set up once per process (the debug-build note).
    train(100, 1_000);
    let small = train(10_000, 1_000);
    let large = train(1_000_000, 1_000);
    // The same buffers whatever the data; a million samples would take 36 MB.
    assert_eq!(
        large, small,
        "peak heap for 10^4 samples {small} B, for 10^6 {large} B"
    );
    // A buffer of 1,000 samples (growing by doubling) plus the network, its optimizer and
    // a batch.
    assert!(large < 1_024 * SAMPLE + 64 * 1024, "{large} B");
    // A larger buffer is what costs memory.
    let larger = train(100_000, 50_000);
    assert!(larger > 40_000 * SAMPLE, "{larger} B");
}
