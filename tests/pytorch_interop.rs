//! Weights in PyTorch's names and layouts (`dl::weights::load_pytorch` / `save_pytorch`):
//! `state_dict`s written by PyTorch (`tests/fixtures/make_pytorch_fixtures.py`) load into the
//! same architectures declared with `network!` and reproduce PyTorch's outputs; what `dl` writes
//! reads back bit for bit and has PyTorch's names, shapes and values; bad files and bad module
//! names are an `Err` that names the problem, with the network unchanged.

mod common;

use std::path::{Path, PathBuf};

use common::keras_reference::{FLOOR, TOLERANCE, max_abs};
use dl::prelude::*;
use dl::{Sample, weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

dl::network! {
    /// The Keras tutorial's MLP; PyTorch `fc1`, `fc2`, `fc3`.
    struct TorchMlp {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// PyTorch `conv1`, `pool`, `conv2`, `flatten`, `dropout`, `fc`, channels-first.
    struct TorchCnn {
        input: [10, 8, 3],
        Conv2D(4, (3, 2), relu),
        MaxPooling2D((2, 2)),
        Conv2D(6, (2, 2), relu),
        Flatten,
        Dropout(0.25),
        Dense(5, softmax),
    }
}

dl::network! {
    /// `use_bias = false` on a convolution and a Dense layer: PyTorch's `bias=False`, a module
    /// with `weight` alone.
    struct TorchNoBias {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), relu, use_bias = false),
        Flatten,
        Dense(4, tanh, use_bias = false),
        Dense(2, softmax),
    }
}

dl::network! {
    /// PyTorch `conv1`, `pool`, `conv2`, `flatten`, `fc`: `nn.Conv1d` on `(C, T)`, a dilated
    /// one, and a channels-first flatten of the 3 steps × 5 channels.
    struct TorchConv1d {
        input: [12, 3],
        Conv1D(4, 3, relu),
        MaxPooling1D(2),
        Conv1D(5, 2, relu, dilation_rate = 2),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// PyTorch `fc1`, `norm`, `fc2`: `nn.LayerNorm(6, eps = 1e-3)` (Keras's epsilon) between two
    /// Linear layers.
    struct TorchLayerNorm {
        input: [5],
        Dense(6, tanh),
        LayerNormalization(),
        Dense(3, softmax),
    }
}

dl::network! {
    struct TorchLstm {
        input: tokens[7],
        Embedding(20, 6),
        LSTM(5),
        Dense(3, softmax),
    }
}

dl::network! {
    struct TorchGru {
        input: tokens[7],
        Embedding(20, 6),
        GRU(5),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct TorchRnn {
        input: tokens[7],
        Embedding(20, 6),
        SimpleRNN(5),
        Dense(2),
    }
}

dl::network! {
    /// PyTorch `rnn = nn.LSTM(6, 5, batch_first=True, bidirectional=True)`, read as
    /// `torch.cat([out[:, -1, :5], out[:, 0, 5:]], -1)`.
    struct TorchBiLstm {
        input: tokens[7],
        Embedding(20, 6),
        Bidirectional(LSTM(5)),
        Dense(3, softmax),
    }
}

dl::network! {
    struct TorchBiGru {
        input: tokens[7],
        Embedding(20, 6),
        Bidirectional(GRU(5)),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// PyTorch's whole `out` of a bidirectional `nn.RNN`, `out.flatten(1)`.
    struct TorchBiRnnSequences {
        input: tokens[7],
        Embedding(20, 6),
        Bidirectional(SimpleRNN(4, return_sequences = true)),
        Flatten,
        Dense(2),
    }
}

dl::network! {
    /// A `Flatten` of the network's input, whose shape the layer table does not record.
    struct FlattenFirst {
        input: [4, 4, 2],
        Flatten,
        Dense(3),
    }
}

const MLP: &[&str] = &["fc1", "fc2", "fc3"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch")
}

fn fixture(case: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn file(case: &str) -> PathBuf {
    fixtures().join(format!("{case}.safetensors"))
}

fn modules(io: &Value) -> Vec<String> {
    io["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

fn floats(row: &Value) -> Vec<f32> {
    row.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn ids(row: &Value) -> Vec<u32> {
    row.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

/// Loads fixture `case` into `M` and compares `M`'s outputs on the fixture's inputs with
/// PyTorch's (computed in float64), by the measure of the Keras reference tests: relative to
/// `max(|want|, FLOOR · largest output of the batch)`.
fn reproduces<M: Model>(case: &str, input: impl Fn(&Value) -> M::Input) -> M {
    let io = fixture(case);
    let mut net = M::zeros();
    weights::load_pytorch(&mut net, file(case), &modules(&io)).unwrap();
    let want: Vec<Vec<f64>> = io["torch_float64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let scale = max_abs(&want.concat());
    let mut worst = 0.0f64;
    for (x, w) in io["x"].as_array().unwrap().iter().zip(&want) {
        let got = net.forward(&input(x));
        assert_eq!(got.elems().len(), w.len(), "{case}");
        for (&g, &w) in got.elems().iter().zip(w) {
            let err = (f64::from(g) - w).abs() / w.abs().max(FLOOR * scale);
            assert!(
                err <= TOLERANCE,
                "{case}: dl {g:e}, PyTorch {w:e}, relative error {err:.2e}"
            );
            worst = worst.max(err);
        }
    }
    eprintln!(
        "{case}: largest relative error against PyTorch (float64) {worst:.2e}; PyTorch's own float32 run {:.2e}",
        io["torch_float32_error"].as_f64().unwrap()
    );
    net
}

fn tokens<const L: usize, const V: usize>(x: &Value) -> Tokens<L, V> {
    Tokens::from_slice(&ids(x)).unwrap()
}

fn features<const N: usize>(x: &Value) -> SVector<f32, N> {
    SVector::from_column_slice(&floats(x))
}

// ---- A minimal safetensors reader and writer, to take PyTorch's files apart.

struct Tensor {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl Tensor {
    fn f32(name: &str, shape: &[usize], values: &[f32]) -> Tensor {
        Tensor {
            name: name.to_string(),
            dtype: "F32".to_string(),
            shape: shape.to_vec(),
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    fn values(&self) -> Vec<f32> {
        self.data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
}

/// The tensors of a well-formed file, in the order of their data, and its metadata.
fn read(bytes: &[u8]) -> (Vec<Tensor>, Value) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut tensors: Vec<(u64, Tensor)> = Vec::new();
    let mut metadata = Value::Null;
    for (name, info) in header.as_object().unwrap() {
        if name == "__metadata__" {
            metadata = info.clone();
            continue;
        }
        let offsets: Vec<u64> = info["data_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        tensors.push((
            offsets[0],
            Tensor {
                name: name.clone(),
                dtype: info["dtype"].as_str().unwrap().to_string(),
                shape: info["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                data: data[offsets[0] as usize..offsets[1] as usize].to_vec(),
            },
        ));
    }
    tensors.sort_by_key(|(offset, _)| *offset);
    (tensors.into_iter().map(|(_, t)| t).collect(), metadata)
}

fn write(tensors: &[Tensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for t in tensors {
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.data.len()]}),
        );
        offset += t.data.len();
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    for t in tensors {
        out.extend(&t.data);
    }
    out
}

fn fixture_tensors(case: &str) -> Vec<Tensor> {
    read(&std::fs::read(file(case)).unwrap()).0
}

// ---- PyTorch's files reproduce PyTorch.

#[test]
fn the_tutorial_mlp_reproduces_pytorch() {
    reproduces::<TorchMlp>("mlp", features);
}

#[test]
fn a_cnn_reproduces_pytorch_through_conv_kernels_and_a_channels_first_flatten() {
    reproduces::<TorchCnn>("cnn", features);
}

#[test]
fn a_conv1d_network_reproduces_pytorch_through_oik_kernels_and_a_channels_first_flatten() {
    reproduces::<TorchConv1d>("conv1d", features);
}

#[test]
fn layer_normalization_reproduces_pytorch() {
    reproduces::<TorchLayerNorm>("layer_norm", features);
}

#[test]
fn embedding_lstm_reproduces_pytorch() {
    reproduces::<TorchLstm>("lstm", tokens);
}

#[test]
fn embedding_gru_reproduces_pytorch() {
    reproduces::<TorchGru>("gru", tokens);
}

#[test]
fn embedding_simple_rnn_reproduces_pytorch() {
    reproduces::<TorchRnn>("rnn", tokens);
}

#[test]
fn embedding_bidirectional_lstm_reproduces_pytorch() {
    reproduces::<TorchBiLstm>("bilstm", tokens);
}

#[test]
fn embedding_bidirectional_gru_reproduces_pytorch() {
    reproduces::<TorchBiGru>("bigru", tokens);
}

#[test]
fn bidirectional_sequences_reproduce_pytorch_step_by_step() {
    reproduces::<TorchBiRnnSequences>("birnn_sequences", tokens);
}

// ---- What dl writes.

/// `save_pytorch` after `load_pytorch` gives PyTorch's tensors back, in `state_dict` order with
/// its shapes: bit for bit, except that the pair of recurrent biases becomes their sum and zero.
fn exports_as_pytorch<M: Model>(case: &str, net: &M) {
    let io = fixture(case);
    let names = modules(&io);
    let (exported, metadata) = read(&weights::to_pytorch_bytes(net, &names).unwrap());
    assert_eq!(metadata["format"], "pt");
    assert_eq!(metadata["dl.network"], M::NAME);
    let original = fixture_tensors(case);
    let listed = |ts: &[Tensor]| -> Vec<(String, Vec<usize>)> {
        ts.iter().map(|t| (t.name.clone(), t.shape.clone())).collect()
    };
    assert_eq!(listed(&exported), listed(&original), "{case}");
    // A GRU keeps both biases; the other recurrent layers' are summed into `bias_ih`.
    let summed = !case.contains("gru");
    for (e, o) in exported.iter().zip(&original) {
        assert_eq!(e.dtype, "F32");
        if e.name.contains("bias_ih_l0") && summed {
            let partner = e.name.replace("bias_ih", "bias_hh");
            let hh = original.iter().find(|t| t.name == partner).unwrap();
            let sum: Vec<f32> = o.values().iter().zip(hh.values()).map(|(a, b)| a + b).collect();
            assert_eq!(e.values(), sum, "{case}: {}", e.name);
        } else if e.name.contains("bias_hh_l0") && summed {
            assert!(
                e.values().iter().all(|v| v.to_bits() == (-0.0f32).to_bits()),
                "{}",
                e.name
            );
        } else {
            assert_eq!(e.data, o.data, "{case}: {}", e.name);
        }
    }

    // And reads back bit for bit, through a file too.
    let mut copy = M::zeros();
    weights::from_pytorch_bytes(
        &mut copy,
        &weights::to_pytorch_bytes(net, &names).unwrap(),
        &names,
    )
    .unwrap();
    assert_eq!(bits(&copy), bits(net), "{case}");

    if let Some(dir) = std::env::var_os("DL_PYTORCH_EXPORT") {
        // For `make_pytorch_fixtures.py --check-export`: PyTorch loads these strictly.
        std::fs::create_dir_all(&dir).unwrap();
        weights::save_pytorch(net, Path::new(&dir).join(format!("{case}.safetensors")), &names).unwrap();
    }
}

#[test]
fn exports_have_pytorchs_names_shapes_and_values() {
    exports_as_pytorch("mlp", &reproduces::<TorchMlp>("mlp", features));
    exports_as_pytorch("cnn", &reproduces::<TorchCnn>("cnn", features));
    exports_as_pytorch("conv1d", &reproduces::<TorchConv1d>("conv1d", features));
    exports_as_pytorch(
        "layer_norm",
        &reproduces::<TorchLayerNorm>("layer_norm", features),
    );
    exports_as_pytorch("lstm", &reproduces::<TorchLstm>("lstm", tokens));
    exports_as_pytorch("gru", &reproduces::<TorchGru>("gru", tokens));
    exports_as_pytorch("rnn", &reproduces::<TorchRnn>("rnn", tokens));
    exports_as_pytorch("bilstm", &reproduces::<TorchBiLstm>("bilstm", tokens));
    exports_as_pytorch("bigru", &reproduces::<TorchBiGru>("bigru", tokens));
    exports_as_pytorch(
        "birnn_sequences",
        &reproduces::<TorchBiRnnSequences>("birnn_sequences", tokens),
    );
}

/// A fresh temporary directory.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-pytorch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn save_then_load_is_bit_exact_even_for_negative_zero_biases() {
    let dir = scratch("round-trip");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = TorchLstm::new(&mut rng);
    // Biases that are not all zero, one of them -0.0, which `+ 0.0` would turn into +0.0.
    net.for_each_param_mut(|_, tensor, v| {
        if tensor == "bias" {
            for (i, b) in v.iter_mut().enumerate() {
                *b = (i as f32 - 7.0) / 9.0;
            }
            v[0] = -0.0;
        }
    });
    let names = ["embedding", "lstm", "fc"];
    let path = dir.join("lstm.safetensors");
    weights::save_pytorch(&net, &path, &names).unwrap();
    let mut copy = TorchLstm::new(&mut ChaCha8Rng::seed_from_u64(4));
    assert_ne!(bits(&copy), bits(&net));
    weights::load_pytorch(&mut copy, &path, &names).unwrap();
    assert_eq!(bits(&copy), bits(&net));

    let mut cnn = TorchCnn::new(&mut rng);
    let names = vec!["conv1".to_string(), "conv2".to_string(), "fc".to_string()];
    weights::save_pytorch(&cnn, &path, &names).unwrap();
    let before = bits(&cnn);
    cnn = TorchCnn::zeros();
    weights::load_pytorch(&mut cnn, &path, &names).unwrap();
    assert_eq!(bits(&cnn), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

dl::network! {
    struct TorchDepthwise {
        input: [6, 6, 2],
        DepthwiseConv2D((3, 3), depth_multiplier = 2, activation = relu),
        Flatten,
        Dense(3),
    }
}

/// A depthwise kernel `(KH, KW, C, M)` is `nn.Conv2d(C, C·M, groups = C)`'s weight
/// `(C·M, 1, KH, KW)`, output channel `c·M + m` in both; saved and loaded back, the same bits.
#[test]
fn depthwise_kernels_are_grouped_conv_weights() {
    let net = TorchDepthwise::new(&mut ChaCha8Rng::seed_from_u64(5));
    let names = ["dw", "fc"];
    let bytes = weights::to_pytorch_bytes(&net, &names).unwrap();
    let (tensors, _) = read(&bytes);
    let weight = tensors.iter().find(|t| t.name == "dw.weight").expect("dw.weight");
    assert_eq!(weight.shape, [4, 1, 3, 3]);
    let torch = weight.values();
    let mut keras = Vec::new();
    net.for_each_param(|layer, tensor, v| {
        if layer == "depthwise_conv2d" && tensor == "kernel" {
            keras = v.to_vec();
        }
    });
    for (y, x, c, m) in (0..3)
        .flat_map(|y| (0..3).flat_map(move |x| (0..2).flat_map(move |c| (0..2).map(move |m| (y, x, c, m)))))
    {
        assert_eq!(
            keras[((y * 3 + x) * 2 + c) * 2 + m],
            torch[((c * 2 + m) * 3 + y) * 3 + x]
        );
    }
    assert_eq!(tensors.iter().find(|t| t.name == "dw.bias").unwrap().shape, [4]);
    let mut copy = TorchDepthwise::zeros();
    weights::from_pytorch_bytes(&mut copy, &bytes, &names).unwrap();
    assert_eq!(bits(&copy), bits(&net));
}

/// Layers without bias map to PyTorch modules built with `bias=False`: `weight` alone, saved
/// and loaded back bit for bit.
#[test]
fn layers_without_bias_are_pytorch_modules_without_bias() {
    let dir = scratch("no-bias");
    let net = TorchNoBias::new(&mut ChaCha8Rng::seed_from_u64(5));
    let names = ["conv", "fc1", "fc2"];
    let path = dir.join("no_bias.safetensors");
    weights::save_pytorch(&net, &path, &names).unwrap();
    let (tensors, _) = read(&std::fs::read(&path).unwrap());
    let saved: Vec<(&str, &[usize])> = tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    assert_eq!(
        saved,
        [
            ("conv.weight", &[3, 2, 3, 3][..]),
            ("fc1.weight", &[4, 48][..]),
            ("fc2.weight", &[2, 4][..]),
            ("fc2.bias", &[2][..]),
        ]
    );
    let mut copy = TorchNoBias::zeros();
    weights::load_pytorch(&mut copy, &path, &names).unwrap();
    assert_eq!(bits(&copy), bits(&net));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `save_pytorch` then `load_pytorch`, through a file, of a network with `Bidirectional` weights
/// of its own (not PyTorch's), biases with a `-0.0`: the same bits, the same outputs.
fn bidirectional_round_trip<M: Model<Input = Tokens<7, 20>>>(dir: &Path, seed: u64) {
    let random = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut net = M::zeros();
        net.for_each_param_mut(|_, tensor, v| {
            v.iter_mut().for_each(|w| *w = rng.random_range(-0.5..0.5));
            if tensor.ends_with("bias") {
                v[0] = -0.0;
            }
        });
        net
    };
    let net = random(seed);
    let names = ["embedding", "rnn", "fc"];
    let path = dir.join(format!("{}.safetensors", M::NAME));
    weights::save_pytorch(&net, &path, &names).unwrap();
    let mut copy = random(seed + 1);
    assert_ne!(bits(&copy), bits(&net));
    weights::load_pytorch(&mut copy, &path, &names).unwrap();
    assert_eq!(bits(&copy), bits(&net), "{}", M::NAME);
    let x = Tokens::new([3, 1, 4, 1, 5, 9, 2]).unwrap();
    assert_eq!(copy.forward(&x).elems(), net.forward(&x).elems());
}

#[test]
fn bidirectional_save_then_load_is_bit_exact() {
    let dir = scratch("bidirectional");
    bidirectional_round_trip::<TorchBiLstm>(&dir, 21);
    bidirectional_round_trip::<TorchBiGru>(&dir, 22);
    bidirectional_round_trip::<TorchBiRnnSequences>(&dir, 23);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Errors.

/// `load` fails with exactly `message` and leaves the network as it was.
fn fails<M: Model>(net: &mut M, bytes: &[u8], names: &[&str], message: &str) {
    let before = bits(net);
    let err = weights::from_pytorch_bytes(net, bytes, names).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(bits(net), before, "the network changed on: {message}");
}

fn mlp() -> TorchMlp {
    TorchMlp::new(&mut ChaCha8Rng::seed_from_u64(9))
}

#[test]
fn a_wrong_number_of_module_names_is_an_error_naming_the_counts() {
    let mut net = mlp();
    let before = bits(&net);
    let err = weights::load_pytorch(&mut net, file("mlp"), &["fc1", "fc2"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 2 PyTorch module names given for network `TorchMlp`, which has 3 layers with parameters \
             (`dense`, `dense_1`, `dense_2`): give one name per layer with parameters, in order",
            file("mlp").display()
        )
    );
    assert_eq!(bits(&net), before);
    // Layers without parameters take no name.
    let err = weights::to_pytorch_bytes(
        &TorchCnn::zeros(),
        &["conv1", "pool", "conv2", "flatten", "dropout", "fc"],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "<bytes>: 6 PyTorch module names given for network `TorchCnn`, which has 3 layers with parameters \
         (`conv2d`, `conv2d_1`, `dense`): give one name per layer with parameters, in order"
    );
    let err = weights::to_pytorch_bytes(&net, &["fc1", "fc2", "fc1"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<bytes>: PyTorch module name `fc1` is given twice (for layers `dense` and `dense_2`)"
    );
    let err = weights::to_pytorch_bytes(&net, &["fc1", "", "fc3"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<bytes>: PyTorch module name 1 (for layer `dense_1`) is empty"
    );
}

#[test]
fn a_missing_recurrent_bias_is_an_error() {
    let tensors: Vec<Tensor> = fixture_tensors("lstm")
        .into_iter()
        .filter(|t| t.name != "rnn.bias_hh_l0")
        .collect();
    fails(
        &mut TorchLstm::new(&mut ChaCha8Rng::seed_from_u64(1)),
        &write(&tensors),
        &["embedding", "rnn", "fc"],
        "<bytes>: missing tensor `rnn.bias_hh_l0`; the file does not match network `TorchLstm` with PyTorch \
         modules `embedding`, `rnn`, `fc`",
    );
}

#[test]
fn a_transposed_linear_weight_is_an_error_naming_the_layouts() {
    let tensors: Vec<Tensor> = fixture_tensors("mlp")
        .into_iter()
        .map(|mut t| {
            if t.name == "fc1.weight" {
                t.shape = vec![10, 64];
            }
            t
        })
        .collect();
    fails(
        &mut mlp(),
        &write(&tensors),
        MLP,
        "<bytes>: fc1.weight: expected shape [64, 10], found [10, 64] (that is the shape of `dense.kernel` in \
         dl's and Keras's layout)",
    );
}

#[test]
fn bad_tensors_are_errors_naming_them() {
    let mlp_with = |f: &dyn Fn(&mut Vec<Tensor>)| {
        let mut tensors = fixture_tensors("mlp");
        f(&mut tensors);
        write(&tensors)
    };
    let mut net = mlp();

    let nan = mlp_with(&|ts| {
        let t = ts.iter_mut().find(|t| t.name == "fc2.weight").unwrap();
        let mut v = t.values();
        v[64 + 3] = f32::NAN;
        *t = Tensor::f32("fc2.weight", &[64, 64], &v);
    });
    fails(
        &mut net,
        &nan,
        MLP,
        "<bytes>: fc2.weight: value at index 67 (element [1, 3]) is NaN",
    );

    let f64 = mlp_with(&|ts| {
        let t = ts.iter_mut().find(|t| t.name == "fc3.bias").unwrap();
        t.dtype = "F16".to_string();
        t.shape = vec![2];
    });
    fails(
        &mut net,
        &f64,
        MLP,
        "<bytes>: fc3.bias: expected dtype F32, found F16 (convert with `.float()` before saving)",
    );

    let extra = mlp_with(&|ts| ts.push(Tensor::f32("fc4.weight", &[1], &[0.5])));
    fails(
        &mut net,
        &extra,
        MLP,
        "<bytes>: unexpected tensor `fc4.weight`; the file does not match network `TorchMlp` with PyTorch \
         modules `fc1`, `fc2`, `fc3`",
    );

    // Names as another model has them.
    fails(
        &mut net,
        &std::fs::read(file("mlp")).unwrap(),
        &["0", "2", "4"],
        "<bytes>: missing tensors `0.weight`, `0.bias`, `2.weight`, `2.bias`, `4.weight`, `4.bias`; unexpected \
         tensors `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias`, `fc3.weight`, `fc3.bias`; the file does \
         not match network `TorchMlp` with PyTorch modules `0`, `2`, `4`",
    );

    // dl's own file, in Keras's names and layout.
    fails(
        &mut net,
        &weights::to_bytes(&mlp()).unwrap(),
        MLP,
        "<bytes>: missing tensors `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias`, `fc3.weight`, `fc3.bias`; \
         unexpected tensors `dense.kernel`, `dense.bias`, `dense_1.kernel`, `dense_1.bias`, `dense_2.kernel`, \
         `dense_2.bias`; the file does not match network `TorchMlp` with PyTorch modules `fc1`, `fc2`, `fc3` \
         (the file is in dl's own names and layout: read it with weights::load)",
    );

    // Hostile containers go through the same checks as `load`.
    let bytes = std::fs::read(file("mlp")).unwrap();
    fails(
        &mut net,
        &bytes[..bytes.len() - 1],
        MLP,
        "<bytes>: tensor `fc3.bias`: data_offsets [19712, 19716] reach past the end of the data section, which \
         has 19715 bytes (truncated file?)",
    );
    fails(
        &mut net,
        &[0xff; 8],
        MLP,
        "<bytes>: the header size field declares 18446744073709551615 bytes, more than the 100000000 a \
         safetensors header may have (not a safetensors file?)",
    );
}

#[test]
fn recurrent_biases_that_overflow_when_added_are_an_error() {
    let tensors: Vec<Tensor> = fixture_tensors("rnn")
        .into_iter()
        .map(|t| match t.name.as_str() {
            "rnn.bias_ih_l0" | "rnn.bias_hh_l0" => Tensor::f32(&t.name, &[5], &[0.0, 0.0, 3e38, 0.0, 0.0]),
            _ => t,
        })
        .collect();
    fails(
        &mut TorchRnn::new(&mut ChaCha8Rng::seed_from_u64(1)),
        &write(&tensors),
        &["embedding", "rnn", "fc"],
        "<bytes>: simple_rnn.bias: rnn.bias_ih_l0 + rnn.bias_hh_l0 overflows at index 2",
    );
}

#[test]
fn a_dense_reading_a_flatten_of_the_input_cannot_be_mapped() {
    let err = weights::to_pytorch_bytes(&FlattenFirst::zeros(), &["fc"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<bytes>: layer `dense` reads `flatten`, the network's first layer, whose input shape the network does \
         not record: if it is an image of more than one channel, PyTorch flattens it in another order (C, H, \
         W) than dl (H, W, C); declare a flat input (`input: [N]`, the same input type) without the `Flatten`"
    );
}

#[test]
fn save_refuses_non_finite_weights() {
    let mut net = mlp();
    net.for_each_param_mut(|layer, tensor, v| {
        if (layer, tensor) == ("dense_1", "bias") {
            v[5] = f32::INFINITY;
        }
    });
    let err = weights::to_pytorch_bytes(&net, MLP).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<bytes>: dense_1.bias: value at index 5 (element [5]) is +inf; refusing to save weights that could \
         not be loaded"
    );
}

#[test]
fn mutated_files_never_panic_and_leave_the_network_unchanged_on_error() {
    use rand::Rng;
    let original = std::fs::read(file("gru")).unwrap();
    let names = ["embedding", "rnn", "fc"];
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut net = TorchGru::new(&mut rng);
    let header = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..3000 {
        let mut bytes = original.clone();
        for _ in 0..rng.random_range(1..4) {
            // Mostly the header, where the structure is.
            let at = if rng.random_bool(0.8) {
                rng.random_range(0..header)
            } else {
                rng.random_range(0..bytes.len())
            };
            bytes[at] = match rng.random_range(0..3) {
                0 => rng.random(),
                1 => b"0123456789[]{},:\""[rng.random_range(0..17)],
                _ => bytes[at] ^ (1 << rng.random_range(0..8)),
            };
        }
        if rng.random_bool(0.1) {
            bytes.truncate(rng.random_range(0..bytes.len()));
        }
        let before = bits(&net);
        match weights::from_pytorch_bytes(&mut net, &bytes, &names) {
            Ok(()) => loaded += 1,
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
                assert_eq!(bits(&net), before, "changed on: {e}");
            }
        }
    }
    eprintln!("{loaded} mutated files loaded, {refused} refused");
    assert!(refused > 1000 && loaded > 0, "{loaded} loaded, {refused} refused");
}

dl::network! {
    struct TorchNormalized {
        input: [6, 6, 2],
        Conv2D(3, 3),
        BatchNormalization(),
        Flatten,
        Dense(2, softmax),
    }
}

#[test]
fn batch_normalization_maps_to_running_statistics_and_ignores_the_batch_counter() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = TorchNormalized::new(&mut rng);
    net.for_each_param_mut(|_, _, v| v.iter_mut().for_each(|x| *x = rng.random_range(-1.0..1.0)));
    net.for_each_state_mut(|_, _, v| v.iter_mut().for_each(|x| *x = rng.random_range(0.5..1.5)));
    let names = ["conv", "bn", "fc"];
    let bytes = weights::pytorch::to_pytorch_bytes(&net, &names).unwrap();
    let (mut tensors, _) = read(&bytes);
    let listed: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        listed,
        [
            "conv.weight",
            "conv.bias",
            "bn.weight",
            "bn.bias",
            "fc.weight",
            "fc.bias",
            "bn.running_mean",
            "bn.running_var"
        ]
    );
    // PyTorch's state_dict also holds an I64 batch counter, which dl has no use for.
    tensors.push(Tensor {
        name: "bn.num_batches_tracked".into(),
        dtype: "I64".into(),
        shape: vec![],
        data: 7i64.to_le_bytes().to_vec(),
    });
    let mut copy = TorchNormalized::zeros();
    weights::pytorch::from_pytorch_bytes(&mut copy, &write(&tensors), &names).unwrap();
    assert_eq!(bits(&copy), bits(&net));
    let state = |m: &TorchNormalized| {
        let mut s = Vec::new();
        m.for_each_state(|_, _, v| s.extend(v.iter().map(|x| x.to_bits())));
        s
    };
    assert_eq!(state(&copy), state(&net));
}

// ---- Bidirectional files and the layers without a mapping.

#[test]
fn a_unidirectional_file_for_a_bidirectional_layer_is_an_error_naming_the_reverse_tensors() {
    fails(
        &mut TorchBiLstm::zeros(),
        &std::fs::read(file("lstm")).unwrap(),
        &["embedding", "rnn", "fc"],
        "<bytes>: missing tensors `rnn.weight_ih_l0_reverse`, `rnn.weight_hh_l0_reverse`, \
         `rnn.bias_ih_l0_reverse`, `rnn.bias_hh_l0_reverse`; the file does not match network `TorchBiLstm` \
         with PyTorch modules `embedding`, `rnn`, `fc` (a `Bidirectional` layer reads a recurrent module \
         with `bidirectional=True`, whose backward direction is the `_l0_reverse` tensors)",
    );
    // And the other way round; the `Linear` after it is twice as wide, too.
    fails(
        &mut TorchLstm::zeros(),
        &std::fs::read(file("bilstm")).unwrap(),
        &["embedding", "rnn", "fc"],
        "<bytes>: unexpected tensors `rnn.weight_ih_l0_reverse`, `rnn.weight_hh_l0_reverse`, \
         `rnn.bias_ih_l0_reverse`, `rnn.bias_hh_l0_reverse`; the file does not match network `TorchLstm` \
         with PyTorch modules `embedding`, `rnn`, `fc` (`_l0_reverse` tensors are the backward direction of a \
         module with `bidirectional=True`: declare that layer as `Bidirectional(…)`)",
    );
}

#[test]
fn a_bad_reverse_tensor_is_an_error_naming_it() {
    let tensors: Vec<Tensor> = fixture_tensors("bigru")
        .into_iter()
        .map(|mut t| {
            if t.name == "rnn.weight_hh_l0_reverse" {
                t.shape = vec![5, 15];
            }
            t
        })
        .collect();
    fails(
        &mut TorchBiGru::new(&mut ChaCha8Rng::seed_from_u64(2)),
        &write(&tensors),
        &["embedding", "rnn", "fc"],
        "<bytes>: rnn.weight_hh_l0_reverse: expected shape [15, 5], found [5, 15] (that is the shape of \
         `bidirectional.backward_gru.recurrent_kernel` in dl's and Keras's layout)",
    );
}

dl::network! {
    /// A layer kind with no single PyTorch module (`SeparableConv2D`), before one that has.
    struct Unmapped {
        input: [6, 6, 2],
        SeparableConv2D(3, (3, 3)),
        Flatten,
        Dense(2, softmax),
    }
}

#[test]
fn a_layer_without_a_pytorch_counterpart_is_an_error_naming_it_and_the_mapped_ones() {
    let message = "layer `separable_conv2d` is a `SeparableConv2D`, which has no PyTorch counterpart \
                   here (the layers with parameters that have one: Dense, Conv2D, Conv1D, DepthwiseConv2D, Embedding, LSTM, \
                   GRU, SimpleRNN, Bidirectional, BatchNormalization, LayerNormalization)";
    let names = ["sep", "fc"];
    let err = weights::to_pytorch_bytes(&Unmapped::zeros(), &names).unwrap_err();
    assert_eq!(err.to_string(), format!("<bytes>: {message}"));

    let dir = scratch("unmapped");
    let path = dir.join("unmapped.safetensors");
    let err = weights::save_pytorch(&Unmapped::zeros(), &path, &names).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: {message}", path.display()));
    assert!(!path.exists(), "nothing is written");

    // Loading fails the same way, before reading the file, with the network unchanged.
    let tensors = [
        Tensor::f32("fc.weight", &[2, 108], &[0.5; 216]),
        Tensor::f32("fc.bias", &[2], &[0.5; 2]),
    ];
    std::fs::write(&path, write(&tensors)).unwrap();
    let mut net = Unmapped::zeros();
    let before = bits(&net);
    let err = weights::load_pytorch(&mut net, &path, &names).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: {message}", path.display()));
    assert_eq!(bits(&net), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
