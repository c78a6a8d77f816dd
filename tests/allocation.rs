//! A training step allocates nothing after the first batch, single-sample inference never
//! allocates, and large networks are built without overflowing a 2 MiB test-thread stack.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "common/tutorial_nets.rs"]
mod tutorial_nets;

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tutorial_nets::{MnistCnn, TextLstm, Tutorial};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not see each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    // Set on the threads of rayon's global pool, whose allocations go to `POOL_ALLOCATIONS`:
    // only the sharded test below uses that pool.
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

static POOL_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count_one() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    if IN_POOL.try_with(Cell::get).unwrap_or(false) {
        POOL_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

dl::network! {
    struct MnistMlp {
        input: [784],
        Dense(128, relu),
        Dense(10, softmax),
    }
}

#[test]
fn training_steps_after_the_first_allocate_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut net = Tutorial::new(&mut rng);
    let x: Vec<SVector<f32, 10>> = (0..32).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<f32> = (0..32).map(|i| (i % 2) as f32).collect();
    let mut trainer = Trainer::<Tutorial, _, _>::new(BinaryCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        for _ in 0..10 {
            trainer.train_on_batch(&mut net, &x, &y).unwrap();
        }
        // A smaller last batch reuses the same buffers.
        trainer.train_on_batch(&mut net, &x[..7], &y[..7]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
}

#[test]
fn single_sample_forward_allocates_nothing() {
    let net = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(1));
    let x = SVector::<f32, 10>::from_element(0.3);
    let mut out = 0.0;
    assert_eq!(allocations_during(|| out = net.forward(&x)[0]), 0);
    assert!(out > 0.0 && out < 1.0);
}

#[test]
fn large_network_builds_trains_and_clones_on_a_test_thread_stack() {
    // Runs on the default 2 MiB test thread, in debug builds too: the 784×128 kernel (401 KB)
    // must go straight to the heap.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = MnistMlp::new(&mut rng);
    let copy = net.clone();
    let x: Vec<SVector<f32, 784>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).collect();
    let mut trainer =
        Trainer::<MnistMlp, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let p = net.forward(&x[0]);
    assert!((p.sum() - 1.0).abs() < 1e-5);
    assert_ne!(copy.forward(&x[0]), p);
}

#[test]
fn the_tutorial_cnn_builds_trains_and_runs_on_a_test_thread_without_steady_state_allocation() {
    // A debug build on the default 2 MiB test-thread stack: the 28×28×32 activations and the
    // 1600×64 kernel never pass through the stack.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = MnistCnn::new(&mut rng);
    let x: Vec<SVector<f32, 784>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).collect();
    let mut trainer =
        Trainer::<MnistCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    let p = net.forward(&x[0]);
    assert!((p.sum() - 1.0).abs() < 1e-5);
    let mut out = 0.0;
    assert_eq!(allocations_during(|| out = net.forward(&x[1])[0]), 0);
    assert!(out > 0.0);
}

#[test]
fn the_tutorial_lstm_trains_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut net = TextLstm::new(&mut rng);
    let x: Vec<Tokens<100, 10000>> = (0..8)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..10000))).unwrap())
        .collect();
    let y: Vec<usize> = (0..8).collect();
    let mut trainer =
        Trainer::<TextLstm, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..5], &y[..5]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    let p = net.forward(&x[0]);
    assert!((p.sum() - 1.0).abs() < 1e-5);
}

dl::network! {
    struct MaskedBidirectional {
        input: tokens[20],
        Embedding(500, 16, mask_zero = true),
        Bidirectional(GRU(8, return_sequences = true)),
        Bidirectional(LSTM(8)),
        Dense(4, softmax),
    }
}

/// `Bidirectional` keeps its reversed input, mask and input gradient across steps: nothing is
/// allocated once the buffers have grown to the largest batch.
#[test]
fn bidirectional_layers_train_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = MaskedBidirectional::new(&mut rng);
    let x: Vec<Tokens<20, 500>> = (0..8)
        .map(|_| {
            let mut ids: [u32; 20] = std::array::from_fn(|_| rng.random_range(1..500));
            ids[15..].fill(0);
            Tokens::new(ids).unwrap()
        })
        .collect();
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut trainer = Trainer::<MaskedBidirectional, _, _>::new(
        SparseCategoricalCrossEntropy::default(),
        Adam::default(),
        None,
    );
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..5], &y[..5]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
}

/// Allocations on the calling thread and on rayon's global pool while `f` runs.
fn allocations_here_and_in_the_pool(f: impl FnOnce()) -> (usize, usize) {
    let pool_before = POOL_ALLOCATIONS.load(Ordering::Relaxed);
    let here = allocations_during(f);
    (here, POOL_ALLOCATIONS.load(Ordering::Relaxed) - pool_before)
}

#[test]
fn sharded_training_steps_allocate_nothing_but_rayons_queue_blocks() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .start_handler(|_| IN_POOL.with(|p| p.set(true)))
        .build_global()
        .expect("the global pool is only built here");
    // The LSTM: its 640 k embedding weights are summed, checked and updated in pieces, one per
    // thread.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = TextLstm::new(&mut rng);
    let x: Vec<Tokens<100, 10000>> = (0..8)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..10000))).unwrap())
        .collect();
    let y: Vec<usize> = (0..8).collect();
    const WARM_UP: usize = 10;
    for threads in [1, 0] {
        let mut trainer =
            Trainer::<TextLstm, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None)
                .with_parallel(Parallel::new(2).with_threads(threads))
                .unwrap();
        for _ in 0..WARM_UP {
            trainer.train_on_batch(&mut net, &x, &y).unwrap();
            trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        }
        let n = allocations_here_and_in_the_pool(|| {
            for _ in 0..20 {
                trainer.train_on_batch(&mut net, &x, &y).unwrap();
            }
            // Uneven shards of a smaller batch reuse the same buffers.
            trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
            trainer.train_on_batch(&mut net, &x, &y).unwrap();
        });
        // The pool's threads never allocate, splitting the update included. A thread outside
        // the pool hands it each whole step as one job through rayon's injector queue, which
        // allocates a new block every 63 jobs: 22 steps, at most 1 block. One thread runs the
        // shards in turn without rayon, and allocates nothing.
        let (here, pool) = n;
        assert_eq!(pool, 0, "{threads} threads: allocations on the pool's threads");
        let bound = if threads == 1 { 0 } else { 1 };
        assert!(
            here <= bound,
            "{threads} threads: {here} allocations on the calling thread"
        );
    }
}

dl::network! {
    struct BatchNormCnn {
        input: [12, 12, 3],
        Conv2D(8, (3, 3), relu),
        BatchNormalization(),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(16, relu),
        BatchNormalization(),
        Dense(4, softmax),
    }
}

#[test]
fn batch_normalization_trains_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = BatchNormCnn::new(&mut rng);
    let x: Vec<SVector<f32, 432>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut trainer =
        Trainer::<BatchNormCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    let mut out = 0.0;
    net.forward(&x[0]);
    assert_eq!(allocations_during(|| out = net.forward(&x[1])[0]), 0);
    assert!(out > 0.0);
}

dl::network! {
    /// DS-CNN's and MobileNet's blocks: depthwise (with a depth multiplier, and without a bias)
    /// and separable convolutions with batch normalization.
    struct DepthwiseCnn {
        input: [12, 10, 2],
        Conv2D(8, (3, 3), relu, strides = (2, 2), padding = same),
        DepthwiseConv2D((3, 3), padding = same, use_bias = false),
        BatchNormalization(),
        Activation(relu),
        Conv2D(8, (1, 1), relu),
        DepthwiseConv2D((3, 3), strides = (2, 2), depth_multiplier = 2, activation = tanh),
        SeparableConv2D(6, (3, 3), elu, padding = same),
        GlobalAveragePooling2D,
        Dense(4, softmax),
    }
}

#[test]
fn depthwise_and_separable_convolutions_train_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut net = DepthwiseCnn::new(&mut rng);
    let x: Vec<SVector<f32, 240>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut trainer =
        Trainer::<DepthwiseCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    let mut out = 0.0;
    net.forward(&x[0]);
    assert_eq!(allocations_during(|| out = net.forward(&x[1])[0]), 0);
    assert!(out > 0.0);
}

dl::network! {
    /// Conv1D (causal and dilated, strided), the 1-D poolings and layer normalization.
    struct Conv1dNorm {
        input: [16, 3],
        Conv1D(6, 3, relu, padding = causal, dilation_rate = 2),
        LayerNormalization(),
        MaxPooling1D(2),
        Conv1D(5, 2, tanh, strides = 2, padding = same),
        AveragePooling1D(2),
        GlobalAveragePooling1D,
        LayerNormalization(scale = false),
        Dense(4, softmax),
    }
}

#[test]
fn conv1d_and_layer_normalization_train_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut net = Conv1dNorm::new(&mut rng);
    let x: Vec<SVector<f32, 48>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut trainer =
        Trainer::<Conv1dNorm, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    let mut out = 0.0;
    net.forward(&x[0]);
    assert_eq!(allocations_during(|| out = net.forward(&x[1])[0]), 0);
    assert!(out > 0.0);
}

dl::network! {
    /// A ResNet-style network: projection and identity shortcuts (a tensor read twice, its
    /// gradients summed through the workspace's scratch), a Concatenate and every merge kind's
    /// buffers.
    struct BranchingCnn {
        input: [8, 8, 2],
        stem: Conv2D(4, (3, 3), padding = same),
        Activation(relu),
        Residual(
            [Conv2D(6, (3, 3), strides = (2, 2), padding = same), BatchNormalization, Activation(relu),
             Conv2D(6, (3, 3), padding = same)],
            shortcut = [Conv2D(6, (1, 1), strides = (2, 2))],
        ),
        block: Activation(relu),
        identity: Residual([Conv2D(6, (3, 3), padding = same), Activation(tanh)]),
        both: Concatenate(block, identity),
        pooled: GlobalAveragePooling2D,
        a: Dense(5, tanh),
        b: Dense(5, elu)(pooled),
        Maximum(a, b),
        Dense(4, softmax),
    }
}

#[test]
fn branching_networks_train_without_steady_state_allocation() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut net = BranchingCnn::new(&mut rng);
    let x: Vec<SVector<f32, 128>> = (0..8).map(|_| SVector::from_fn(|_, _| rng.random())).collect();
    let y: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut trainer =
        Trainer::<BranchingCnn, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::default(), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let n = allocations_during(|| {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
        trainer.train_on_batch(&mut net, &x[..3], &y[..3]).unwrap();
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    });
    assert_eq!(n, 0);
    net.forward(&x[0]);
    let mut out = 0.0;
    assert_eq!(allocations_during(|| out = net.forward(&x[1])[0]), 0);
    assert!(out > 0.0);
}
