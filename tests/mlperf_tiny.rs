//! The four MLPerf Tiny reference models, declared as their Keras code builds them
//! (`common/mlperf_tiny_nets.rs`): each has Keras's `count_params()` and Keras's layer names, and
//! reproduces Keras's float64 outputs, loss (with the `l2` penalties) and every gradient on a
//! batch, under the measure of `common/keras_reference.rs`, within 1e-5 relative or twice what
//! Keras's own float32 run misses by, whichever is larger: these are deep stacks of batch
//! normalizations over a batch of 4, and Keras in float32 misses its own float64 gradients by up
//! to 1.1e-3 (the autoencoder), 3.7e-4 (MobileNet), 3.8e-5 (ResNet-8) and 2.8e-5 (DS-CNN). The
//! embedded twins (`#[weights]`, the form the no_std program runs) compute what the runtime
//! computes. Fixtures: `tests/fixtures/make_mlperf_tiny_fixtures.py`.

mod common;
#[path = "common/mlperf_tiny_nets.rs"]
mod mlperf_tiny_nets;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::keras_reference::{Checker, TOLERANCE, max_abs};
use dl::prelude::*;
use dl::{Head, Loss, Sample};
use safetensors::SafeTensors;

macro_rules! twins {
    ($train:ident, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { pub struct $train { $($body)* } }
        dl::network! { #[weights($file)] pub struct $embedded { $($body)* } }
    };
}
with_mlperf_tiny_nets!(twins, 0.2, 0.4);

// Neither framework's dropout masks can be reproduced by the other: the gradients are compared
// on DS-CNN with rate-0 dropout, as the fixture computed them.
macro_rules! ds_cnn_without_dropout {
    (DsCnn, $embedded:ident, $file:tt, { $($body:tt)* }) => {
        dl::network! { pub struct DsCnnWithoutDropout { $($body)* } }
    };
    ($($other:tt)*) => {};
}
with_mlperf_tiny_nets!(ds_cnn_without_dropout, 0.0, 0.0);

fn fixture_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mlperf_tiny")
        .join(file)
}

/// A fixture file's tensors (float32, as f64) and metadata.
struct Fixture {
    tensors: HashMap<String, Vec<f64>>,
    meta: HashMap<String, String>,
}

impl Fixture {
    fn read(model: &str) -> Self {
        let bytes = std::fs::read(fixture_path(&format!("{model}.fixture.safetensors"))).unwrap();
        let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = metadata.metadata().clone().unwrap_or_default();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    .collect();
                (name, values)
            })
            .collect();
        Fixture { tensors, meta }
    }

    fn get(&self, name: &str) -> &[f64] {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no {name}"))
    }

    fn f32s(&self, name: &str) -> Vec<f32> {
        self.get(name).iter().map(|&v| v as f32).collect()
    }
}

/// Keras's parameter count (trainable and not) and its layer names (Keras lists a branching
/// model's layers in another topological order than the declaration's, so as sets).
fn check_declaration<M: Model>(model: &str, fx: &Fixture) {
    let count: usize = fx.meta["count_params"].parse().unwrap();
    assert_eq!(
        M::PARAMS + M::NON_TRAINABLE,
        count,
        "{model}: Keras's count_params()"
    );
    let mut ours: Vec<&str> = M::LAYERS.iter().map(|l| l.name).collect();
    let mut theirs: Vec<&str> = fx.meta["layers"].split(',').collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{model}: Keras's layer names");
}

/// Outputs in inference mode, and the training-mode loss and gradient, against Keras's.
fn check_against_keras<M, L>(model: &str, fx: &Fixture, loss: L, labels: &[L::Target])
where
    M: Model + Send + Sync,
    M::Input: Sample<Elem = f32>,
    L: Loss<M::Head> + Copy,
{
    let mut net = M::zeros();
    dl::weights::load(&mut net, fixture_path(&format!("{model}.safetensors"))).unwrap();
    let elems = fx.f32s("x");
    let x: Vec<M::Input> = elems
        .chunks_exact(<M::Input as Sample>::LEN)
        .map(M::Input::from_elems)
        .collect();
    let keras_f32: f64 = fx.meta["keras_float32_error"].parse().unwrap();
    let mut c = Checker::with_tolerance("mlperf_tiny", TOLERANCE.max(2.0 * keras_f32));

    let outputs: Vec<f32> = dl::train::predict(&net, &x)
        .iter()
        .flat_map(|o| o.elems().to_vec())
        .collect();
    c.close_all(&format!("{model} outputs"), &outputs, fx.get("outputs"));

    let mut trainer = Trainer::<M, L, Adam>::new(loss, Adam::default(), None);
    let stats = trainer.compute_gradients(&net, &x, labels).unwrap();
    let want = fx.get("loss");
    c.close(&format!("{model} loss"), &[stats.loss()], want, want[0].abs());

    // Gradients, tensor by tensor; the floor of each value scales with its layer's largest.
    type Tensors<'a> = Vec<(&'a str, Vec<f32>)>;
    let mut by_layer: Vec<(&str, Tensors<'_>)> = Vec::new();
    trainer
        .gradients()
        .for_each_param(|layer, tensor, g| match by_layer.last_mut() {
            Some((l, tensors)) if *l == layer => tensors.push((tensor, g.to_vec())),
            _ => by_layer.push((layer, vec![(tensor, g.to_vec())])),
        });
    let mut compared = 0;
    for (layer, tensors) in &by_layer {
        let wants: Vec<&[f64]> = tensors
            .iter()
            .map(|(t, _)| fx.get(&format!("grad.{layer}.{t}")))
            .collect();
        let scale = wants.iter().map(|w| max_abs(w)).fold(0.0, f64::max);
        for ((tensor, got), want) in tensors.iter().zip(wants) {
            c.close(&format!("{model} grad {layer}.{tensor}"), got, want, scale);
            compared += 1;
        }
    }
    let in_fixture = fx.tensors.keys().filter(|k| k.starts_with("grad.")).count();
    assert_eq!(compared, in_fixture, "{model}: every trainable tensor compared");
    c.finish();
}

fn classes(fx: &Fixture) -> Vec<usize> {
    fx.get("y").iter().map(|&v| v as usize).collect()
}

#[test]
fn ds_cnn_is_keras_keyword_spotter() {
    let fx = Fixture::read("ds_cnn");
    check_declaration::<DsCnn>("ds_cnn", &fx);
    assert_eq!(DsCnn::PARAMS, DsCnnWithoutDropout::PARAMS);
    check_against_keras::<DsCnnWithoutDropout, _>(
        "ds_cnn",
        &fx,
        SparseCategoricalCrossEntropy::default(),
        &classes(&fx),
    );
}

#[test]
fn mobilenet_v1_is_keras_visual_wake_words_model() {
    let fx = Fixture::read("mobilenet_v1");
    check_declaration::<MobileNetV1>("mobilenet_v1", &fx);
    check_against_keras::<MobileNetV1, _>(
        "mobilenet_v1",
        &fx,
        SparseCategoricalCrossEntropy::default(),
        &classes(&fx),
    );
}

#[test]
fn resnet8_is_keras_image_classifier() {
    let fx = Fixture::read("resnet8");
    check_declaration::<ResNet8>("resnet8", &fx);
    check_against_keras::<ResNet8, _>(
        "resnet8",
        &fx,
        SparseCategoricalCrossEntropy::default(),
        &classes(&fx),
    );
}

#[test]
fn autoencoder_is_keras_anomaly_detector() {
    let fx = Fixture::read("autoencoder");
    check_declaration::<AutoEncoder>("autoencoder", &fx);
    // The autoencoder reconstructs its input: the labels are the samples.
    let targets: Vec<<dl::Units<640> as Head>::Values> = fx
        .f32s("x")
        .chunks_exact(640)
        .map(SVector::from_column_slice)
        .collect();
    check_against_keras::<AutoEncoder, _>("autoencoder", &fx, MeanSquaredError, &targets);
}

/// The embedded twins compute what the runtime computes from the same weight file.
#[test]
fn embedded_twins_agree_with_the_runtime() {
    fn agree<M: Model>(model: &str, embedded: impl Fn(&[f32]) -> Vec<f32>)
    where
        M::Input: Sample<Elem = f32>,
    {
        let mut net = M::zeros();
        dl::weights::load(&mut net, fixture_path(&format!("{model}.safetensors"))).unwrap();
        let fx = Fixture::read(model);
        let elems = fx.f32s("x");
        for sample in elems.chunks_exact(<M::Input as Sample>::LEN) {
            let want = net.forward(&M::Input::from_elems(sample));
            let got = embedded(sample);
            let want = want.elems();
            assert_eq!(want.len(), got.len());
            for (w, g) in want.iter().zip(&got) {
                assert!(
                    (w - g).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{model}: {want:?} vs {got:?}"
                );
            }
        }
    }
    // Activations of a 96 × 96 image outgrow a test thread's stack: the scratch lives on the
    // heap here, in a static on a device.
    macro_rules! embedded {
        ($net:ident, $scratch:ident) => {
            |x: &[f32]| {
                let mut scratch = Box::new($scratch::ZERO);
                $net::EMBEDDED
                    .forward_in(x.try_into().unwrap(), &mut scratch)
                    .to_vec()
            }
        };
    }
    agree::<DsCnn>("ds_cnn", embedded!(DsCnnEmbedded, DsCnnEmbeddedScratch));
    agree::<MobileNetV1>(
        "mobilenet_v1",
        embedded!(MobileNetV1Embedded, MobileNetV1EmbeddedScratch),
    );
    agree::<ResNet8>("resnet8", embedded!(ResNet8Embedded, ResNet8EmbeddedScratch));
    agree::<AutoEncoder>(
        "autoencoder",
        embedded!(AutoEncoderEmbedded, AutoEncoderEmbeddedScratch),
    );
}

/// The kernels the embedded hot loops read as vectors start on a 64-byte cache line, in a
/// `static` as on a device, and so does the scratch: misaligned, every 16-float load touched two lines, and the
/// autoencoder's products streamed their weights from L2 at two thirds of the speed.
#[test]
fn embedded_kernels_start_on_cache_lines() {
    static AUTOENCODER: AutoEncoderEmbedded = AutoEncoderEmbedded::EMBEDDED;
    static DS_CNN: DsCnnEmbedded = DsCnnEmbedded::EMBEDDED;
    let (a, d) = (&AUTOENCODER, &DS_CNN);
    let kernels: [(&str, &[f32]); 20] = [
        ("dense", &a.dense.kernel),
        ("dense_1", &a.dense_1.kernel),
        ("dense_2", &a.dense_2.kernel),
        ("dense_3", &a.dense_3.kernel),
        ("dense_4", &a.dense_4.kernel),
        ("dense_5", &a.dense_5.kernel),
        ("dense_6", &a.dense_6.kernel),
        ("dense_7", &a.dense_7.kernel),
        ("dense_8", &a.dense_8.kernel),
        ("dense_9", &a.dense_9.kernel),
        ("conv2d", &d.conv2d.kernel),
        ("conv2d_1", &d.conv2d_1.kernel),
        ("conv2d_2", &d.conv2d_2.kernel),
        ("conv2d_3", &d.conv2d_3.kernel),
        ("conv2d_4", &d.conv2d_4.kernel),
        ("depthwise_conv2d", &d.depthwise_conv2d.kernel),
        ("depthwise_conv2d_1", &d.depthwise_conv2d_1.kernel),
        ("depthwise_conv2d_2", &d.depthwise_conv2d_2.kernel),
        ("depthwise_conv2d_3", &d.depthwise_conv2d_3.kernel),
        ("ds_cnn dense", &d.dense.kernel),
    ];
    for (name, kernel) in kernels {
        assert_eq!(kernel.as_ptr() as usize % 64, 0, "{name}.kernel");
    }
    // The outputs the layers store, whole vectors into the arena, start on lines too.
    assert_eq!(core::mem::align_of::<DsCnnEmbeddedScratch>(), 64);
    assert_eq!(core::mem::align_of::<AutoEncoderEmbeddedScratch>(), 64);
}
