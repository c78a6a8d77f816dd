//! Weights and checkpoints in safetensors files: round trips, resuming training bit for bit,
//! a file written from Keras, and a corpus of hostile files that must each give an `Err` naming
//! the problem without touching the network.

use std::path::{Path, PathBuf};

use dl::prelude::*;
use dl::weights;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// The Keras tutorial's binary classifier.
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// The tutorial with a narrower first layer: a different network with the same names.
    struct Narrow {
        input: [10],
        Dense(32, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Rings {
        input: [2],
        hidden: Dense(16, tanh),
        Dense(3, softmax),
    }
}

dl::network! {
    /// The network of `tests/fixtures/make_keras_weights.py`.
    struct KerasMlp {
        input: [6],
        Dense(8, tanh),
        Dense(5, relu),
        Dense(3, softmax),
    }
}

dl::network! {
    struct Cnn {
        input: [6, 6, 2],
        Conv2D(3, (3, 2), relu),
        Conv2D(4, (2, 2), tanh),
        Flatten,
        Dense(2, softmax),
    }
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

/// A fresh directory under the system's temporary directory.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-weights-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn round_trip_gives_bit_identical_predictions() {
    let dir = scratch("round-trip");
    let path = dir.join("tutorial.safetensors");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut net = Tutorial::new(&mut rng);
    // Trained weights, not just the initial ones (whose biases are all zero).
    let x: Vec<SVector<f32, 10>> = (0..64)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y: Vec<f32> = x.iter().map(|v| f32::from(v.sum() > 0.0)).collect();
    net.fit(
        &x,
        &y,
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::new(0.01),
            epochs: 2,
            verbose: false,
            ..Fit::default()
        },
    )
    .unwrap();

    weights::save(&net, &path).unwrap();
    assert_eq!(
        files_in(&dir),
        ["tutorial.safetensors"],
        "no temporary file is left"
    );
    let mut copy = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(2));
    assert_ne!(bits(&copy), bits(&net));
    weights::load(&mut copy, &path).unwrap();
    assert_eq!(bits(&copy), bits(&net));
    let p: Vec<u32> = net.predict(&x).iter().map(|v| v[0].to_bits()).collect();
    let q: Vec<u32> = copy.predict(&x).iter().map(|v| v[0].to_bits()).collect();
    assert_eq!(p, q);

    // The file is what `to_bytes` gives, and saving again replaces it in place.
    assert_eq!(std::fs::read(&path).unwrap(), weights::to_bytes(&net).unwrap());
    weights::save(&Tutorial::zeros(), &path).unwrap();
    weights::load(&mut copy, &path).unwrap();
    assert_eq!(bits(&copy), bits(&Tutorial::zeros()));
    assert_eq!(files_in(&dir), ["tutorial.safetensors"]);

    // Errors name the file.
    let missing = dir.join("nope").join("w.safetensors");
    let e = weights::save(&net, &missing).unwrap_err().to_string();
    assert!(e.starts_with(&missing.display().to_string()), "{e}");
    let e = weights::load(&mut copy, &missing).unwrap_err().to_string();
    assert!(e.starts_with(&missing.display().to_string()), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Three classes: inside radius 1, between 1 and 2, beyond.
fn rings(n: usize, rng: &mut impl Rng) -> (Vec<SVector<f32, 2>>, Vec<usize>) {
    (0..n)
        .map(|_| {
            let x = SVector::from([rng.random_range(-3.0..3.0f32), rng.random_range(-3.0..3.0f32)]);
            let r = x.norm();
            (x, usize::from(r >= 1.0) + usize::from(r >= 2.0))
        })
        .unzip()
}

/// Trains 4 epochs in one go, and 2 epochs + checkpoint + a fresh network and optimizer
/// restored from it + 2 more epochs; the weights must agree bit for bit.
fn resumes_bit_for_bit<O: Optimizer + Clone + Default>(tag: &str, optimizer: O) {
    let dir = scratch(tag);
    let path = dir.join("run.safetensors");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // 203 samples and a validation split: the last batch of each epoch is short.
    let (x, y) = rings(270, &mut rng);
    let init = Rings::new(&mut rng);
    let cfg = |optimizer: O, initial_epoch, epochs, checkpoint| Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer,
        epochs,
        initial_epoch,
        batch_size: 16,
        validation_split: 0.25,
        seed: 11,
        checkpoint,
        verbose: false,
        ..Fit::default()
    };

    let mut straight = init.clone();
    let full = straight.fit(&x, &y, cfg(optimizer.clone(), 0, 4, None)).unwrap();

    let mut first = init.clone();
    first
        .fit(&x, &y, cfg(optimizer.clone(), 0, 2, Some(path.clone())))
        .unwrap();
    assert_eq!(files_in(&dir), ["run.safetensors"]);

    // A fresh network with other weights and a fresh optimizer, as after a restart.
    let mut resumed = Rings::new(&mut ChaCha8Rng::seed_from_u64(99));
    let mut restored = optimizer.clone();
    let epoch = weights::load_checkpoint(&mut resumed, &mut restored, &path).unwrap();
    assert_eq!(epoch, 2);
    assert_eq!(bits(&resumed), bits(&first));
    let rest = resumed
        .fit(&x, &y, cfg(restored, epoch, 4, Some(path.clone())))
        .unwrap();

    assert_eq!(bits(&resumed), bits(&straight), "{tag}: resumed training differs");
    let numbers: Vec<usize> = rest.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(numbers, [3, 4]);
    assert_eq!(rest.epochs[1].loss, full.epochs[3].loss);
    assert_eq!(rest.epochs[1].val_loss, full.epochs[3].val_loss);

    // The checkpoint now holds epoch 4, whose weights also load alone.
    let mut again = Rings::zeros();
    assert_eq!(
        weights::load_checkpoint(&mut again, &mut optimizer.clone(), &path).unwrap(),
        4
    );
    assert_eq!(bits(&again), bits(&straight));
    let mut weights_only = Rings::zeros();
    weights::load(&mut weights_only, &path).unwrap();
    assert_eq!(bits(&weights_only), bits(&straight));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn training_resumed_from_a_checkpoint_is_bit_identical() {
    resumes_bit_for_bit("adam", Adam::new(0.01));
    resumes_bit_for_bit("adamw", AdamW::new(0.01, 0.004));
    resumes_bit_for_bit("sgd", Sgd::new(0.05).with_momentum(0.9).with_nesterov(true));
    let mut rms = RmsProp::new(0.005);
    rms.momentum = 0.5;
    resumes_bit_for_bit("rmsprop", rms);
    resumes_bit_for_bit("adagrad", Adagrad::new(0.05));
}

#[test]
fn initial_epoch_at_epochs_trains_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (x, y) = rings(32, &mut rng);
    let mut net = Rings::new(&mut rng);
    let before = bits(&net);
    let h = net
        .fit(
            &x,
            &y,
            Fit {
                loss: SparseCategoricalCrossEntropy::default(),
                optimizer: Adam::default(),
                epochs: 3,
                initial_epoch: 3,
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap();
    assert!(h.epochs.is_empty());
    assert_eq!(bits(&net), before);
}

#[test]
fn a_file_written_from_keras_loads_and_reproduces_keras() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras_weights");
    let io: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mlp_io.json")).unwrap()).unwrap();
    let mut net = KerasMlp::zeros();
    weights::load(&mut net, dir.join("mlp.safetensors")).unwrap();

    // Keras's arrays map 1:1: the (inputs, units) kernel is dl's memory.
    let mut shapes = Vec::new();
    net.for_each_param(|l, t, v| shapes.push((format!("{l}.{t}"), v.len())));
    for (name, len) in &shapes {
        let shape: Vec<usize> = io["tensors"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(shape.iter().product::<usize>(), *len, "{name}");
    }

    let rows = |key: &str| -> Vec<Vec<f32>> {
        io[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    };
    let x: Vec<SVector<f32, 6>> = rows("x").iter().map(|r| SVector::from_column_slice(r)).collect();
    let want = rows("keras_predict");
    let mut worst = 0.0f32;
    for (xi, wi) in x.iter().zip(&want) {
        let got = net.forward(xi);
        for (g, w) in got.iter().zip(wi) {
            let rel = (g - w).abs() / w.abs();
            worst = worst.max(rel);
            assert!(rel <= 1e-5, "dl {g} vs Keras {w}: relative error {rel}");
        }
    }
    eprintln!("largest relative error against Keras: {worst:e}");

    // And what dl writes reads back the same (metadata and tensor order aside).
    let mut copy = KerasMlp::new(&mut ChaCha8Rng::seed_from_u64(5));
    weights::from_bytes(&mut copy, &weights::to_bytes(&net).unwrap()).unwrap();
    assert_eq!(bits(&copy), bits(&net));
}

#[test]
fn conv_kernels_are_written_and_read_in_keras_shape() {
    let net = Cnn::new(&mut ChaCha8Rng::seed_from_u64(13));
    let bytes = weights::to_bytes(&net).unwrap();
    let (h, d) = split(&bytes);
    // Keras's (KH, KW, C, F) kernels, which hold the same bytes as dl's.
    assert!(
        h.contains(r#""conv2d.kernel":{"dtype":"F32","shape":[3,2,2,3]"#),
        "{h}"
    );
    assert!(
        h.contains(r#""conv2d_1.kernel":{"dtype":"F32","shape":[2,2,3,4]"#),
        "{h}"
    );
    assert!(
        h.contains(r#""dense.kernel":{"dtype":"F32","shape":[48,2]"#),
        "{h}"
    );
    let mut copy = Cnn::zeros();
    weights::from_bytes(&mut copy, &bytes).unwrap();
    assert_eq!(bits(&copy), bits(&net));

    // Same number of values, other kernel geometry: named with both shapes.
    let wrong = h.replacen(r#""shape":[2,2,3,4]"#, r#""shape":[4,1,3,4]"#, 1);
    let e = weights::from_bytes(&mut copy, &join(&wrong, &d))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d_1.kernel: expected shape [2, 2, 3, 4], found [4, 1, 3, 4]"),
        "{e}"
    );
    assert_eq!(bits(&copy), bits(&net));
}

dl::network! {
    struct BnNet {
        input: [4, 4, 2],
        Conv2D(3, (2, 2), tanh),
        BatchNormalization(),
        Flatten,
        Dense(2, softmax),
    }
}

/// Parameters and state, as bits.
fn all_bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = bits(m);
    m.for_each_state(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

#[test]
fn batch_normalization_state_is_saved_and_loaded_under_keras_names() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut net = BnNet::new(&mut rng);
    let x: Vec<SVector<f32, 32>> = (0..16)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y: Vec<usize> = (0..16).map(|i| i % 2).collect();
    let mut trainer =
        Trainer::<BnNet, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::new(0.01), None);
    for _ in 0..3 {
        trainer.train_on_batch(&mut net, &x, &y).unwrap();
    }
    let mut state = Vec::new();
    net.for_each_state(|layer, tensor, v| state.push((layer, tensor, v.to_vec())));
    assert_eq!(state.len(), 2);
    assert_eq!((state[0].0, state[0].1), ("batch_normalization", "moving_mean"));
    assert_eq!(
        (state[1].0, state[1].1),
        ("batch_normalization", "moving_variance")
    );
    assert!(
        state[0].2.iter().all(|&m| m != 0.0),
        "training moved the moving mean"
    );

    let bytes = weights::to_bytes(&net).unwrap();
    let (h, d) = split(&bytes);
    for tensor in ["gamma", "beta", "moving_mean", "moving_variance"] {
        let entry = format!(r#""batch_normalization.{tensor}":{{"dtype":"F32","shape":[3]"#);
        assert!(h.contains(&entry), "{h}");
    }
    let mut copy = BnNet::new(&mut ChaCha8Rng::seed_from_u64(15));
    weights::from_bytes(&mut copy, &bytes).unwrap();
    assert_eq!(all_bits(&copy), all_bits(&net));
    let p: Vec<u32> = net
        .predict(&x)
        .iter()
        .flat_map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        .collect();
    let q: Vec<u32> = copy
        .predict(&x)
        .iter()
        .flat_map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
        .collect();
    assert_eq!(p, q);

    // A checkpoint carries the state too; the optimizer's buffers cover trainable values only.
    let checkpoint = weights::checkpoint_to_bytes(&net, &trainer.optimizer, 1).unwrap();
    let mut copy = BnNet::new(&mut ChaCha8Rng::seed_from_u64(15));
    let mut adam = Adam::new(0.01);
    weights::checkpoint_from_bytes(&mut copy, &mut adam, &checkpoint).unwrap();
    assert_eq!(all_bits(&copy), all_bits(&net));
    assert!(adam.state().iter().all(|(_, v)| v.len() == BnNet::PARAMS));

    // A missing or spoiled moving variance is an `Err` that names it, and changes nothing.
    let init = BnNet::new(&mut ChaCha8Rng::seed_from_u64(16));
    let (start, end) = offsets(&h, "batch_normalization.moving_variance");
    let mut without = h.clone();
    let entry_at = without.find(r#","batch_normalization.moving_variance""#).unwrap();
    let entry_end = entry_at + without[entry_at..].find('}').unwrap() + 1;
    without.replace_range(entry_at..entry_end, "");
    // Drop its bytes and move the tensors after it back (it is the last one written).
    assert_eq!(end, d.len(), "moving_variance is the last tensor");
    let mut data = d.clone();
    data.truncate(start);
    let cases = [
        (
            join(&without, &data),
            "missing tensor `batch_normalization.moving_variance`",
        ),
        (
            {
                let mut d = d.clone();
                d[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
                join(&h, &d)
            },
            "batch_normalization.moving_variance: value at index 0 (element [0]) is NaN",
        ),
        (
            join(
                &h.replacen(
                    r#""batch_normalization.moving_mean":{"dtype":"F32","shape":[3]"#,
                    r#""batch_normalization.moving_mean":{"dtype":"F32","shape":[1,3]"#,
                    1,
                ),
                &d,
            ),
            "batch_normalization.moving_mean: expected shape [3], found [1, 3]",
        ),
    ];
    for (bytes, message) in cases {
        let mut net = init.clone();
        let e = weights::from_bytes(&mut net, &bytes).unwrap_err().to_string();
        assert!(e.contains(message), "{e:?} does not contain {message:?}");
        assert_eq!(all_bits(&net), all_bits(&init));
    }
}

// ---- Hostile files.

/// A valid weights file of `Tutorial`, split into header text and data section.
fn valid() -> (String, Vec<u8>) {
    let net = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(6));
    split(&weights::to_bytes(&net).unwrap())
}

fn split(file: &[u8]) -> (String, Vec<u8>) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    (
        String::from_utf8(file[8..8 + n].to_vec()).unwrap(),
        file[8 + n..].to_vec(),
    )
}

fn join(header: &str, data: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(data);
    f
}

/// Rewrites one tensor's entry (`"dtype":"F32","shape":[10,64],"data_offsets":[0,2560]`).
fn with_entry(header: &str, name: &str, entry: &str) -> String {
    let key = format!("\"{name}\":{{");
    let start = header.find(&key).unwrap() + key.len();
    let end = start + header[start..].find('}').unwrap();
    format!("{}{entry}{}", &header[..start], &header[end..])
}

/// Adds an entry at the end of a header.
fn add_entry(header: &str, name: &str, entry: &str) -> String {
    let end = header.rfind('}').unwrap();
    format!("{},\"{name}\":{{{entry}}}{}", &header[..end], &header[end..])
}

/// The data offsets of `name` in a header.
fn offsets(header: &str, name: &str) -> (usize, usize) {
    let key = format!("\"{name}\":{{");
    let start = header.find(&key).unwrap();
    let at = start + header[start..].find("\"data_offsets\":[").unwrap() + 16;
    let end = at + header[at..].find(']').unwrap();
    let (a, b) = header[at..end].split_once(',').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// The hostile corpus: (what, file, the substring its error must contain).
fn corpus() -> Vec<(&'static str, Vec<u8>, String)> {
    let (h, d) = valid();
    let file = join(&h, &d);
    let (k0, k1) = offsets(&h, "dense.kernel");
    let mut cases: Vec<(&'static str, Vec<u8>, String)> = Vec::new();
    let mut case = |what, file, message: &str| cases.push((what, file, message.to_string()));

    case(
        "empty file",
        Vec::new(),
        "the file is 0 bytes long, too short for the 8-byte header size",
    );
    case("seven bytes", vec![1; 7], "the file is 7 bytes long");
    let mut f = 5000u64.to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    case(
        "header longer than the file",
        f,
        "the header size field declares 5000 bytes but only 2 bytes follow it (truncated file?)",
    );
    let mut f = u64::MAX.to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    case(
        "huge declared header",
        f,
        "declares 18446744073709551615 bytes, more than the 100000000 a safetensors header may have",
    );
    case(
        "file cut in the data",
        file[..file.len() - 10].to_vec(),
        "tensor `dense_2.kernel`: data_offsets [19456, 19712] reach past the end of the data section, which \
         has 19706 bytes (truncated file?)",
    );
    case(
        "file cut in the header",
        file[..100].to_vec(),
        "bytes but only 92 bytes follow it (truncated file?)",
    );
    let mut f = file.clone();
    f.extend_from_slice(&[0; 8]);
    case(
        "trailing bytes",
        f,
        "data bytes [19716, 19724) after the last tensor belong to no tensor",
    );
    case(
        "invalid JSON",
        join(&h.replacen('{', "[", 1), &d),
        "invalid header: ",
    );
    case(
        "JSON cut short",
        join(&h[..h.len() / 2], &d),
        "invalid header: EOF while parsing",
    );
    let mut bad = h.clone().into_bytes();
    bad[3] = 0xff;
    let mut f = (bad.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(&bad);
    f.extend_from_slice(&d);
    case("header not UTF-8", f, "the header is not valid UTF-8");
    case(
        "header not an object",
        join("[]      ", &[]),
        "invalid type: sequence, expected a safetensors header (a JSON object of tensors)",
    );
    let dup = h.replacen(
        "\"dense.bias\":",
        &format!("\"dense.kernel\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[{k1},{k1}]}},\"dense.bias\":"),
        1,
    );
    case(
        "duplicate tensor name",
        join(&dup, &d),
        "duplicate tensor name `dense.kernel`",
    );
    case(
        "overlapping data",
        join(
            &with_entry(
                &h,
                "dense.bias",
                &format!(
                    "\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[{},{}]",
                    k1 - 4,
                    k1 + 252
                ),
            ),
            &d,
        ),
        "the data of tensors `dense.kernel` [0, 2560) and `dense.bias` [2556, 2812) overlap",
    );
    case(
        "offsets out of bounds",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F32\",\"shape\":[10,64],\"data_offsets\":[99999997440,100000000000]",
            ),
            &d,
        ),
        "tensor `dense.kernel`: data_offsets [99999997440, 100000000000] reach past the end of the data section",
    );
    case(
        "offsets past u64",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F32\",\"shape\":[10,64],\"data_offsets\":[0,18446744073709551616]",
            ),
            &d,
        ),
        "expected a data offset of tensor `dense.kernel` (a non-negative integer)",
    );
    case(
        "reversed offsets",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F32\",\"shape\":[10,64],\"data_offsets\":[2560,0]",
            ),
            &d,
        ),
        "tensor `dense.kernel`: data_offsets [2560, 0] are reversed",
    );
    case(
        "size disagrees with shape",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F32\",\"shape\":[10,63],\"data_offsets\":[0,2560]",
            ),
            &d,
        ),
        "tensor `dense.kernel`: shape [10, 63] of F32 takes 2520 bytes but data_offsets [0, 2560] hold 2560",
    );
    case(
        "wrong dtype",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F64\",\"shape\":[10,32],\"data_offsets\":[0,2560]",
            ),
            &d,
        ),
        "dense.kernel: expected dtype F32, found F64",
    );
    case(
        "unknown dtype",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"Q4_K\",\"shape\":[10,64],\"data_offsets\":[0,2560]",
            ),
            &d,
        ),
        "tensor `dense.kernel` has an unknown dtype `Q4_K`",
    );
    case(
        "transposed kernel",
        join(
            &with_entry(
                &h,
                "dense.kernel",
                "\"dtype\":\"F32\",\"shape\":[64,10],\"data_offsets\":[0,2560]",
            ),
            &d,
        ),
        "dense.kernel: expected shape [10, 64], found [64, 10]",
    );
    let narrow = weights::to_bytes(&Narrow::new(&mut ChaCha8Rng::seed_from_u64(7))).unwrap();
    case(
        "another network's file",
        narrow,
        "dense.kernel: expected shape [10, 64], found [10, 32]",
    );
    let (b0, b1) = offsets(&h, "dense_2.bias");
    let no_bias = h.replacen(
        &format!(",\"dense_2.bias\":{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{b0},{b1}]}}"),
        "",
        1,
    );
    case(
        "missing tensor",
        join(&no_bias, &d[..b0]),
        "missing tensor `dense_2.bias`; the file does not match network `Tutorial`",
    );
    let extra = add_entry(
        &h,
        "dense_3.kernel",
        &format!(
            "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{b1},{}]",
            b1 + 4
        ),
    );
    let mut more = d.clone();
    more.extend_from_slice(&1f32.to_le_bytes());
    case(
        "extra tensor",
        join(&extra, &more),
        "unexpected tensor `dense_3.kernel`",
    );
    for (what, value, said) in [
        ("NaN weight", f32::NAN, "NaN"),
        ("infinite weight", f32::INFINITY, "+inf"),
        ("negative infinite weight", f32::NEG_INFINITY, "-inf"),
    ] {
        let mut bad = d.clone();
        let at = k0 + 4 * (3 * 64 + 5);
        bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
        case(
            what,
            join(&h, &bad),
            &format!("dense.kernel: value at index 197 (element [3, 5]) is {said}"),
        );
    }
    case(
        "future format version",
        join(
            &h.replacen("\"dl.format_version\":\"1\"", "\"dl.format_version\":\"2\"", 1),
            &d,
        ),
        "unsupported `dl.format_version` `2`: this version of dl reads version 1",
    );
    case(
        "metadata not strings",
        join(
            &h.replacen("\"dl.format_version\":\"1\"", "\"dl.format_version\":1  ", 1),
            &d,
        ),
        "invalid type: integer `1`, expected `__metadata__.dl.format_version` as a string",
    );
    case(
        "missing shape",
        join(
            &with_entry(&h, "dense.kernel", "\"dtype\":\"F32\",\"data_offsets\":[0,2560]"),
            &d,
        ),
        "tensor `dense.kernel` has no `shape`",
    );
    cases
}

#[test]
fn every_hostile_file_is_refused_with_a_message_that_names_the_problem() {
    let dir = scratch("hostile");
    let init = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(8));
    let cases = corpus();
    assert_eq!(cases.len(), 29);
    for (what, bytes, message) in cases {
        // From memory.
        let mut net = init.clone();
        let e = weights::from_bytes(&mut net, &bytes).unwrap_err().to_string();
        assert!(e.contains(&message), "{what}: {e:?} does not contain {message:?}");
        assert_eq!(bits(&net), bits(&init), "{what}: the network changed");
        // From a file, with its path in the message.
        let path = dir.join("hostile.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let e = weights::load(&mut net, &path).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{what}: {e:?}");
        let e = e.to_string();
        assert!(e.starts_with(&format!("{}: ", path.display())), "{what}: {e}");
        assert!(e.contains(&message), "{what}: {e}");
        assert_eq!(bits(&net), bits(&init), "{what}: the network changed");
        // As a checkpoint: refused as well, and the optimizer untouched.
        let mut adam = Adam::default();
        assert!(weights::checkpoint_from_bytes(&mut net, &mut adam, &bytes).is_err());
        assert_eq!(adam.iterations(), 0);
        assert_eq!(bits(&net), bits(&init), "{what}: the network changed");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_checkpoints_are_refused_and_change_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (x, y) = rings(64, &mut rng);
    let mut net = Rings::new(&mut rng);
    let mut trainer =
        Trainer::<Rings, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::new(0.01), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let good = weights::checkpoint_to_bytes(&net, &trainer.optimizer, 5).unwrap();
    let (h, d) = split(&good);

    let init = Rings::new(&mut ChaCha8Rng::seed_from_u64(10));
    let check = |what: &str, bytes: &[u8], message: &str| {
        let mut net = init.clone();
        let mut adam = Adam::new(0.01);
        let e = weights::checkpoint_from_bytes(&mut net, &mut adam, bytes)
            .unwrap_err()
            .to_string();
        assert!(e.contains(message), "{what}: {e:?} does not contain {message:?}");
        assert_eq!(bits(&net), bits(&init), "{what}");
        assert_eq!(adam.iterations(), 0, "{what}");
        assert!(adam.state().iter().all(|(_, v)| v.is_empty()), "{what}");
    };
    let mut ok = init.clone();
    let mut adam = Adam::new(0.01);
    assert_eq!(
        weights::checkpoint_from_bytes(&mut ok, &mut adam, &good).unwrap(),
        5
    );
    assert_eq!(adam.iterations(), 1);

    check(
        "weights file",
        &weights::to_bytes(&net).unwrap(),
        "not a checkpoint: `__metadata__` lacks `dl.contents: checkpoint`",
    );
    check(
        "bad epoch",
        &join(&h.replacen("\"dl.epoch\":\"5\"", "\"dl.epoch\":\"x\"", 1), &d),
        "`dl.epoch` is `x`, not a number of epochs",
    );
    check(
        "other optimizer",
        &join(
            &h.replacen("\"dl.optimizer\":\"adam\"", "\"dl.optimizer\":\"sgd\" ", 1),
            &d,
        ),
        "the checkpoint holds the state of optimizer `sgd`, not `adam`",
    );
    check(
        "bad counter",
        &join(
            &h.replacen(
                "\"dl.optimizer.iterations\":\"1\"",
                "\"dl.optimizer.iterations\":\"-1\"",
                1,
            ),
            &d,
        ),
        "`dl.optimizer.iterations` is `-1`, not a non-negative integer",
    );
    check(
        "missing counter",
        &join(&h.replacen(",\"dl.optimizer.iterations\":\"1\"", "", 1), &d),
        "optimizer state: missing counter `iterations` of adam",
    );
    let (v0, v1) = offsets(&h, "optimizer.v");
    let mut nan = d.clone();
    nan[v0 + 8..v0 + 12].copy_from_slice(&f32::NAN.to_le_bytes());
    check(
        "NaN moment",
        &join(&h, &nan),
        "optimizer.v: value at index 2 (element [2]) is NaN",
    );
    let cut = with_entry(
        &h,
        "optimizer.v",
        &format!(
            "\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{v0},{}]",
            (v1 - v0) / 4 - 1,
            v1 - 4
        ),
    );
    let cut = add_entry(
        &cut,
        "optimizer.pad",
        &format!(
            "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},{v1}]",
            v1 - 4
        ),
    );
    check(
        "moment of the wrong length",
        &join(&cut, &d),
        &format!(
            "optimizer.v: expected shape [{}] (one value per parameter) or [0], found [{}]",
            Rings::PARAMS,
            Rings::PARAMS - 1
        ),
    );
    let unknown = add_entry(
        &h,
        "optimizer.w",
        &format!("\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[{v1},{v1}]"),
    );
    check(
        "unknown buffer",
        &join(&unknown, &d),
        "optimizer state: adam has no state buffer `w`",
    );
}

#[test]
fn checkpointing_into_a_missing_directory_stops_fit_with_the_path() {
    let dir = scratch("no-dir");
    let path = dir.join("missing").join("run.safetensors");
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (x, y) = rings(32, &mut rng);
    let mut net = Rings::new(&mut rng);
    let e = net
        .fit(
            &x,
            &y,
            Fit {
                loss: SparseCategoricalCrossEntropy::default(),
                optimizer: Sgd::default(),
                epochs: 3,
                checkpoint: Some(path.clone()),
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
