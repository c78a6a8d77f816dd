//! Networks of any depth: VGG-16 (13 Conv2D, 5 MaxPooling2D, 3 Dense) and a 200-layer stack.
//! The workspace of a generated network was a tuple, and std implements `Default` only for
//! tuples of at most 12, so a 13th layer did not compile.

use dl::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// Keras's `VGG16(input_shape = (32, 32, 3), classes = 10)`.
    pub struct Vgg16 {
        input: [32, 32, 3],
        Conv2D(64, (3, 3), relu, padding = same),
        Conv2D(64, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(128, (3, 3), relu, padding = same),
        Conv2D(128, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(256, (3, 3), relu, padding = same),
        Conv2D(256, (3, 3), relu, padding = same),
        Conv2D(256, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        Conv2D(512, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(4096, relu),
        Dense(4096, relu),
        Dense(10, softmax),
    }
}

dl::network! {
    /// 200 layers: 199 hidden Dense layers of 8 units and a sigmoid output.
    pub struct Deep200 {
        input: [4],
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(8, relu),
        Dense(1, sigmoid),
    }
}

/// Keras's `count_params()` of VGG16 with a 10-class top on 32×32×3.
fn vgg16_params() -> usize {
    let convs = [
        (3, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 256),
    ]
    .into_iter()
    .chain([
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]);
    let conv: usize = convs.map(|(i, o)| 9 * i * o + o).sum();
    conv + (512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10)
}

/// Runs `f` on a thread with a 2 MiB stack, the size of a debug test thread.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("ran on a 2 MiB stack");
}

#[test]
fn vgg16_forward_and_a_training_step_on_a_2_mib_stack() {
    assert_eq!(Vgg16::PARAMS, vgg16_params());
    assert_eq!(<Vgg16 as Model>::LAYERS.len(), 22);
    on_small_stack(|| {
        let mut net = Vgg16::new(&mut ChaCha8Rng::seed_from_u64(1));
        let x: Vec<SVector<f32, 3072>> = (0..2)
            .map(|s| SVector::from_fn(|i, _| ((i * 7 + s * 13) % 17) as f32 / 17.0))
            .collect();
        let p = net.forward(&x[0]);
        assert!((p.sum() - 1.0).abs() < 1e-4, "softmax output sums to {}", p.sum());
        let y = [3usize, 7];
        let mut trainer =
            Trainer::<Vgg16, _, _>::new(SparseCategoricalCrossEntropy::default(), Sgd::new(0.01), None);
        let before = net.clone();
        let stats = trainer.train_on_batch(&mut net, &x, &y).expect("a finite step");
        assert!(stats.loss().is_finite());
        let mut moved = 0;
        let mut old = Vec::new();
        before.for_each_param(|_, _, v| old.extend_from_slice(v));
        let mut i = 0;
        net.for_each_param(|_, _, v| {
            for w in v {
                moved += usize::from(w.to_bits() != old[i].to_bits());
                i += 1;
            }
        });
        assert!(moved > 1000, "the step moved {moved} weights");
    });
}

#[test]
fn a_200_layer_stack_compiles_trains_and_runs() {
    assert_eq!(<Deep200 as Model>::LAYERS.len(), 200);
    assert_eq!(Deep200::PARAMS, (4 * 8 + 8) + 198 * (8 * 8 + 8) + (8 + 1));
    on_small_stack(|| {
        let mut net = Deep200::new(&mut ChaCha8Rng::seed_from_u64(2));
        let x: Vec<SVector<f32, 4>> = (0..64)
            .map(|i| SVector::from_fn(|j, _| ((i * 5 + j * 3) % 7) as f32 / 7.0 - 0.5))
            .collect();
        let y: Vec<f32> = x.iter().map(|v| f32::from(v[0] > 0.0)).collect();
        let p = net.forward(&x[0]);
        assert!(p[0] > 0.0 && p[0] < 1.0);
        let history = net
            .fit(
                &x,
                &y,
                Fit {
                    loss: BinaryCrossEntropy::default(),
                    optimizer: Adam::default(),
                    epochs: 2,
                    batch_size: 16,
                    verbose: false,
                    ..Fit::default()
                },
            )
            .expect("fit");
        assert!(history.loss().iter().all(|l| l.is_finite()));
        assert_eq!(net.predict(&x).len(), 64);
    });
}

dl::network! {
    /// ResNet-8's second stack as the README writes it in Keras's functional style.
    struct ReadmeFunctional {
        input: [8, 8, 16],
        x: Activation(relu),
        Conv2D(32, (3, 3), strides = (2, 2), padding = same),
        BatchNormalization,
        Activation(relu),
        Conv2D(32, (3, 3), padding = same),
        y: BatchNormalization,
        shortcut: Conv2D(32, (1, 1), strides = (2, 2))(x),
        Add(shortcut, y),
        Activation(relu),
        GlobalAveragePooling2D,
        Dense(10, softmax),
    }
}

dl::network! {
    /// The same stack with the README's `Residual` shorthand.
    struct ReadmeShorthand {
        input: [8, 8, 16],
        Activation(relu),
        Residual(
            [Conv2D(32, (3, 3), strides = (2, 2), padding = same), BatchNormalization, Activation(relu),
             Conv2D(32, (3, 3), padding = same), BatchNormalization],
            shortcut = [Conv2D(32, (1, 1), strides = (2, 2))],
        ),
        Activation(relu),
        GlobalAveragePooling2D,
        Dense(10, softmax),
    }
}

#[test]
fn the_readme_residual_block_two_ways() {
    let a = ReadmeFunctional::new(&mut ChaCha8Rng::seed_from_u64(3));
    let b = ReadmeShorthand::new(&mut ChaCha8Rng::seed_from_u64(3));
    assert_eq!(ReadmeFunctional::PARAMS, ReadmeShorthand::PARAMS);
    let x: Vec<SVector<f32, 1024>> = (0..3)
        .map(|s| SVector::from_fn(|i, _| ((i * 11 + s * 5) % 13) as f32 / 13.0 - 0.4))
        .collect();
    assert_eq!(a.predict(&x), b.predict(&x));
    let summary = a.summary().to_string();
    assert!(summary.contains("Connected to"), "{summary}");
    assert!(summary.contains("add (Add)"), "{summary}");
}

#[test]
fn a_branching_network_saves_and_loads() {
    let a = ReadmeShorthand::new(&mut ChaCha8Rng::seed_from_u64(4));
    let mut b = ReadmeShorthand::new(&mut ChaCha8Rng::seed_from_u64(5));
    let path = std::env::temp_dir().join(format!("dl-deep-{}.safetensors", std::process::id()));
    a.save(&path).expect("save");
    b.load(&path).expect("load");
    std::fs::remove_file(&path).ok();
    let x: Vec<SVector<f32, 1024>> = (0..2)
        .map(|s| SVector::from_fn(|i, _| ((i * 3 + s) % 7) as f32 / 7.0))
        .collect();
    assert_eq!(a.predict(&x), b.predict(&x));
}
