use std::io::Write;

use nalgebra::SVector;

use super::*;
use crate::head::Units;
use crate::loss::{GradOf, HeadOutput};
use crate::optim::{Adam, Sgd};

/// A hand-written stand-in for a generated network: `dense` (2 → 3) and `dense_1` (3 → 2);
/// only the parameter visitors are implemented.
#[derive(Clone, Debug, PartialEq)]
struct Net {
    tensors: Vec<Vec<f32>>,
}

const NAMES: [(&str, &str); 4] = [
    ("dense", "kernel"),
    ("dense", "bias"),
    ("dense_1", "kernel"),
    ("dense_1", "bias"),
];

impl Net {
    fn new(seed: f32) -> Net {
        let mut n = Net::zeros();
        let mut x = seed;
        for t in &mut n.tensors {
            for v in t {
                x = (x * 1.618 + 0.37).fract();
                *v = x - 0.5;
            }
        }
        n
    }
}

impl Model for Net {
    type Input = SVector<f32, 2>;
    type Output = SVector<f32, 2>;
    type Head = Units<2>;
    type Workspace = ();
    const NAME: &'static str = "Net";
    const PARAMS: usize = 6 + 3 + 6 + 2;
    const LAYERS: &'static [LayerSummary] = &[
        LayerSummary {
            name: "dense",
            kind: "Dense",
            output_shape: &[3],
            params: 9,
            non_trainable: 0,
            connected_to: &[],
        },
        LayerSummary {
            name: "dense_1",
            kind: "Dense",
            output_shape: &[2],
            params: 8,
            non_trainable: 0,
            connected_to: &[],
        },
    ];

    fn zeros() -> Self {
        Net {
            tensors: vec![vec![0.0; 6], vec![0.0; 3], vec![0.0; 6], vec![0.0; 2]],
        }
    }
    fn forward(&self, _: &Self::Input) -> Self::Output {
        unimplemented!()
    }
    fn forward_batch(&self, _: &[f32], _: usize, _: &mut (), _: bool) {
        unimplemented!()
    }
    fn head(_: &mut ()) -> (HeadOutput<'_>, &mut [f32]) {
        unimplemented!()
    }
    fn backward_batch(&self, _: &[f32], _: usize, _: &mut (), _: GradOf, _: &mut Self) {
        unimplemented!()
    }
    fn for_each_param<'a>(&'a self, mut f: impl FnMut(&'static str, &'static str, &'a [f32])) {
        for ((l, t), v) in NAMES.iter().zip(&self.tensors) {
            f(l, t, v);
        }
    }
    fn for_each_param_mut(&mut self, mut f: impl FnMut(&'static str, &'static str, &mut [f32])) {
        for ((l, t), v) in NAMES.iter().zip(&mut self.tensors) {
            f(l, t, v);
        }
    }
    fn zip_params_mut(&mut self, other: &Self, mut f: impl FnMut(&mut [f32], &[f32])) {
        for (a, b) in self.tensors.iter_mut().zip(&other.tensors) {
            f(a, b);
        }
    }
}

fn err(r: Result<impl core::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn round_trip_is_bit_identical_and_deterministic() {
    let a = Net::new(0.1);
    let bytes = to_bytes(&a).unwrap();
    assert_eq!(bytes, to_bytes(&a).unwrap());
    assert_eq!(bytes.len() % 4, 0);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0, "data section 8-byte aligned");
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    assert!(
        header.starts_with(
            r#"{"__metadata__":{"dl.format_version":"1","dl.network":"Net","dl.contents":"weights"},"dense.kernel":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}"#
        ),
        "{header}"
    );
    let mut b = Net::zeros();
    from_bytes(&mut b, &bytes).unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_reference_implementation_reads_our_files_and_we_read_its() {
    let a = Net::new(0.2);
    let bytes = to_bytes(&a).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let k = st.tensor("dense.kernel").unwrap();
    assert_eq!(k.shape(), [2, 3]);
    assert_eq!(k.dtype(), safetensors::Dtype::F32);
    assert_eq!(k.data(), bytemuck::cast_slice::<f32, u8>(&a.tensors[0]));
    assert_eq!(st.len(), 4);

    // A file the reference writes (sorted its own way, with its own metadata) loads.
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = NAMES
        .iter()
        .zip(&a.tensors)
        .zip([vec![2, 3], vec![3], vec![3, 2], vec![2]])
        .map(|(((l, t), v), shape)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, bytemuck::cast_slice(v))
                    .unwrap();
            (format!("{l}.{t}"), view)
        })
        .collect();
    let theirs = safetensors::serialize(views, None).unwrap();
    let mut b = Net::zeros();
    from_bytes(&mut b, &theirs).unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_reference_implementation_silently_keeps_the_last_of_duplicate_names() {
    // Why this module reads the header itself: the `safetensors` crate accepts this file.
    let file = header_file(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    assert!(safetensors::SafeTensors::deserialize(&file).is_ok());
    let e = format::parse(&file, format::MAX_HEADER).unwrap_err();
    assert_eq!(e, "invalid header: duplicate tensor name `a` at line 1 column 57");
}

/// A file with the given header text and data section.
fn header_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn the_header_size_is_capped_before_anything_is_read() {
    // A small cap stands in for the real 100 MB one.
    let file = header_file(&format!("{{{}}}", " ".repeat(100)), &[]);
    assert_eq!(
        format::parse(&file, 50).unwrap_err(),
        "the header size field declares 102 bytes, more than the 50 a safetensors header may have \
         (not a safetensors file?)"
    );
    assert!(format::parse(&file, 102).is_ok());
}

#[test]
fn every_container_problem_is_named() {
    let t = |h: &str, data: &[u8]| format::parse(&header_file(h, data), format::MAX_HEADER).unwrap_err();
    let a = r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
    assert_eq!(
        t(&format!("{{{a}}}"), &[0; 4]).split(" (").next().unwrap(),
        "tensor `a`: data_offsets [0, 8] reach past the end of the data section, which has 4 bytes"
    );
    assert_eq!(
        t(&format!("{{{a}}}"), &[0; 12]),
        "data bytes [8, 12) after the last tensor belong to no tensor"
    );
    assert_eq!(
        t(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#,
            &[0; 8]
        ),
        "tensor `a`: data_offsets [8, 0] are reversed"
    );
    assert_eq!(
        t(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            &[0; 8]
        ),
        "tensor `a`: shape [3] of F32 takes 12 bytes but data_offsets [0, 8] hold 8"
    );
    assert_eq!(
        t(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#,
            &[0; 8]
        ),
        "tensor `a`: shape [4294967296, 4294967296, 4] has too many elements"
    );
    assert_eq!(
        t(
            r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            &[0; 2]
        ),
        "tensor `a`: shape [3] of F4 does not fill whole bytes"
    );
    assert_eq!(
        t(
            r#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#,
            &[0; 1]
        ),
        "tensor `a` has an unknown dtype `Q4`"
    );
    let b = r#""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}"#;
    assert_eq!(
        t(&format!("{{{a},{b}}}"), &[0; 12]),
        "the data of tensors `a` [0, 8) and `b` [4, 12) overlap"
    );
    let c = r#""c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}"#;
    assert_eq!(
        t(&format!("{{{a},{c}}}"), &[0; 16]),
        "data bytes [8, 12) belong to no tensor"
    );
    assert!(t("{", &[]).starts_with("invalid header: EOF while parsing"));
    assert!(t("[1]", &[]).starts_with(
        "invalid header: invalid type: sequence, expected a safetensors header (a JSON object of tensors)"
    ));
    let e = t(r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, &[]);
    assert!(
        e.starts_with(
            "invalid header: invalid type: integer `-1`, expected a dimension of tensor `a` (a non-negative integer)"
        ),
        "{e}"
    );
    assert!(
        t(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, &[]).starts_with(
            "invalid header: invalid length 1, expected the data_offsets of tensor `a` as two integers"
        )
    );
    assert!(
        t(r#"{"a":{"dtype":"F32","shape":[1]}}"#, &[])
            .starts_with("invalid header: tensor `a` has no `data_offsets`")
    );
    assert!(
        t(r#"{"a":{"dtype":"F32","dtype":"F32","shape":[1]}}"#, &[])
            .starts_with("invalid header: tensor `a` has `dtype` twice")
    );
    assert!(
        t(r#"{"__metadata__":{"x":1}}"#, &[])
            .starts_with("invalid header: invalid type: integer `1`, expected `__metadata__.x` as a string")
    );
    assert!(
        t(r#"{"__metadata__":{"x":"1","x":"2"}}"#, &[])
            .starts_with("invalid header: `__metadata__` has `x` twice")
    );
    assert!(
        format::parse(&[0xff; 7], 100)
            .unwrap_err()
            .starts_with("the file is 7 bytes long, too short")
    );
    let mut bad_utf8 = 2u64.to_le_bytes().to_vec();
    bad_utf8.extend_from_slice(&[0xc3, 0x28]);
    assert!(
        format::parse(&bad_utf8, 100)
            .unwrap_err()
            .starts_with("the header is not valid UTF-8")
    );
    // Deeply nested unknown fields are skipped without recursion: no stack overflow.
    let deep = format!(
        r#"{{"a":{{"x":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(t(&deep, &[]).starts_with("invalid header: tensor `a` has no `dtype`"));
}

#[test]
fn empty_and_zero_size_tensors_are_fine() {
    let empty = header_file("{}", &[]);
    assert!(format::parse(&empty, 100).unwrap().tensors.is_empty());
    let f = header_file(
        r#"{"__metadata__":null,"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8],"extra":{"ignored":[1]}}}"#,
        &[0; 8],
    );
    let p = format::parse(&f, format::MAX_HEADER).unwrap();
    assert_eq!(p.tensors.len(), 3);
    assert_eq!(p.tensors[1].shape, Vec::<usize>::new());
}

#[test]
fn loading_names_mismatches_and_changes_nothing() {
    let good = Net::new(0.3);
    let mut net = Net::new(0.4);
    let before = net.clone();

    let mut other = good.clone();
    other.tensors[3][1] = f32::NAN;
    let bytes = format::write(
        &[],
        &NAMES
            .iter()
            .zip(&other.tensors)
            .zip([vec![2, 3], vec![3], vec![3, 2], vec![2]])
            .map(|(((l, t), v), s)| (format!("{l}.{t}"), s, v.as_slice()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        err(from_bytes(&mut net, &bytes)),
        "<bytes>: dense_1.bias: value at index 1 (element [1]) is NaN"
    );
    assert_eq!(net, before);

    // Saving refuses what loading would.
    assert_eq!(
        err(to_bytes(&other)),
        "<bytes>: dense_1.bias: value at index 1 (element [1]) is NaN; refusing to save weights that could not be \
         loaded"
    );

    let write = |tensors: &[(&str, Vec<usize>, &[f32])]| {
        format::write(
            &[],
            &tensors
                .iter()
                .map(|(n, s, v)| (n.to_string(), s.clone(), *v))
                .collect::<Vec<_>>(),
        )
    };
    let g = &good.tensors;
    let wrong_shape = write(&[
        ("dense.kernel", vec![3, 2], &g[0]),
        ("dense.bias", vec![3], &g[1]),
        ("dense_1.kernel", vec![3, 2], &g[2]),
        ("dense_1.bias", vec![2], &g[3]),
    ]);
    assert_eq!(
        err(from_bytes(&mut net, &wrong_shape)),
        "<bytes>: dense.kernel: expected shape [2, 3], found [3, 2]"
    );
    let missing_and_extra = write(&[
        ("dense.kernel", vec![2, 3], &g[0]),
        ("dense.bias", vec![3], &g[1]),
        ("dense_1.kernel", vec![3, 2], &g[2]),
        ("dense_2.bias", vec![2], &g[3]),
        ("optimizer.m", vec![2], &g[3]),
    ]);
    assert_eq!(
        err(from_bytes(&mut net, &missing_and_extra)),
        "<bytes>: missing tensor `dense_1.bias`; unexpected tensors `dense_2.bias`, `optimizer.m`; the file does not \
         match network `Net`"
    );
    assert_eq!(net, before);
}

#[test]
fn checkpoints_restore_the_optimizer_and_epoch() {
    let net = Net::new(0.5);
    let mut adam = Adam::new(0.01);
    // Give the optimizer state: two steps on made-up gradients.
    let mut scratch = net.clone();
    for s in 0..2 {
        adam.begin_step();
        let mut offset = 0;
        scratch.for_each_param_mut(|_, _, p| {
            let g: Vec<f32> = p.iter().map(|v| v * (s as f32 + 1.0)).collect();
            adam.update(offset, p, &g);
            offset += p.len();
        });
    }
    let bytes = checkpoint_to_bytes(&scratch, &adam, 7).unwrap();

    let mut fresh_net = Net::zeros();
    let mut fresh = Adam::new(0.01);
    assert_eq!(
        checkpoint_from_bytes(&mut fresh_net, &mut fresh, &bytes).unwrap(),
        7
    );
    assert_eq!(fresh_net, scratch);
    assert_eq!(fresh.iterations(), 2);
    assert_eq!(fresh.state(), adam.state());

    // The weights of a checkpoint load alone too.
    let mut only = Net::zeros();
    from_bytes(&mut only, &bytes).unwrap();
    assert_eq!(only, scratch);

    // Another kind of optimizer is refused, and nothing changes.
    let mut sgd = Sgd::new(0.1).with_momentum(0.9);
    let mut untouched = Net::zeros();
    assert_eq!(
        err(checkpoint_from_bytes(&mut untouched, &mut sgd, &bytes)),
        "<bytes>: the checkpoint holds the state of optimizer `adam`, not `sgd`"
    );
    assert_eq!(untouched, Net::zeros());
    assert_eq!(sgd.iterations(), 0);

    // A weights file is not a checkpoint.
    assert!(
        err(checkpoint_from_bytes(
            &mut untouched,
            &mut fresh,
            &to_bytes(&net).unwrap()
        ))
        .starts_with("<bytes>: not a checkpoint")
    );
}

#[test]
fn a_save_that_fails_midway_leaves_the_previous_file() {
    let dir = std::env::temp_dir().join(format!("dl-weights-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("net.safetensors");
    let old = Net::new(0.6);
    save(&old, &path).unwrap();
    let old_bytes = std::fs::read(&path).unwrap();

    // The new weights go half way down, then the disk fills up.
    let new = to_bytes(&Net::new(0.7)).unwrap();
    let e = atomic::write_atomic_with(&path, |f| {
        f.write_all(&new[..new.len() / 2])?;
        Err(std::io::Error::other("no space left on device (simulated)"))
    })
    .unwrap_err();
    assert!(e.to_string().contains("simulated"));
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["net.safetensors"]);
    let mut net = Net::zeros();
    load(&mut net, &path).unwrap();
    assert_eq!(net, old);

    // Errors about a file carry its path.
    std::fs::write(&path, &old_bytes[..old_bytes.len() - 1]).unwrap();
    let e = err(load(&mut net, &path));
    assert!(
        e.starts_with(&format!("{}: tensor `dense_1.bias`", path.display())),
        "{e}"
    );
    assert!(err(load(&mut net, dir.join("absent"))).contains("No such file"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shapes_follow_keras() {
    let layers = [
        LayerSummary {
            name: "conv2d",
            kind: "Conv2D",
            output_shape: &[26, 26, 8],
            params: 3 * 3 * 8 + 8,
            non_trainable: 0,
            connected_to: &[],
        },
        LayerSummary {
            name: "conv2d_1",
            kind: "Conv2D",
            output_shape: &[24, 24, 16],
            params: 3 * 3 * 8 * 16 + 16,
            non_trainable: 0,
            connected_to: &[],
        },
        LayerSummary {
            name: "flatten",
            kind: "Flatten",
            output_shape: &[9216],
            params: 0,
            non_trainable: 0,
            connected_to: &[],
        },
        LayerSummary {
            name: "dense",
            kind: "Dense",
            output_shape: &[10],
            params: 92170,
            non_trainable: 0,
            connected_to: &[],
        },
    ];
    assert_eq!(
        expected_shape(&layers, &[], "dense", "kernel", 92160),
        Expected::Exact(vec![9216, 10])
    );
    assert_eq!(
        expected_shape(&layers, &[], "dense", "bias", 10),
        Expected::Exact(vec![10])
    );
    let first = expected_shape(&layers, &[], "conv2d", "kernel", 72);
    assert_eq!(first.clone().written(), [9, 8]);
    assert!(first.accepts(&[3, 3, 1, 8]) && first.accepts(&[9, 8]) && !first.accepts(&[3, 3, 8]));
    let second = expected_shape(&layers, &[], "conv2d_1", "kernel", 1152);
    assert!(second.accepts(&[3, 3, 8, 16]) && second.accepts(&[72, 16]));
    assert!(
        !second.accepts(&[3, 6, 4, 16]),
        "channels come from the layer before"
    );
    assert_eq!(
        second.describe(),
        "[KH, KW, 8, 16] with KH·KW·8 = 72, or [72, 16]"
    );
    assert_eq!(
        expected_shape(&layers, &[], "conv2d_1", "bias", 16),
        Expected::Exact(vec![16])
    );
    assert_eq!(
        expected_shape(&layers, &[], "unknown", "gamma", 5),
        Expected::Exact(vec![5])
    );
}

#[test]
fn a_file_too_long_for_the_network_is_refused_before_it_is_read() {
    let dir = std::env::temp_dir().join(format!("dl-weights-long-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.safetensors");
    // Sparse: takes no disk space, and is never read.
    std::fs::File::create(&path).unwrap().set_len(1 << 30).unwrap();
    let mut net = Net::zeros();
    let e = err(load(&mut net, &path));
    assert!(
        e.ends_with(&format!(
            "huge.safetensors: the file is 1073741824 bytes long, more than a file for this network can be ({})",
            max_file_len::<Net>(MAX_OPTIMIZER_BUFFERS)
        )),
        "{e}"
    );
    let e = err(load_checkpoint(&mut net, &mut Adam::default(), &path));
    assert!(e.contains("more than a file for this network can be"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shapes_the_network_tells_take_precedence() {
    let layers = [LayerSummary {
        name: "conv2d",
        kind: "Conv2D",
        output_shape: &[26, 26, 8],
        params: 3 * 3 * 8 + 8,
        non_trainable: 0,
        connected_to: &[],
    }];
    let known: &[KnownShape] = &[("conv2d", "kernel", &[3, 3, 1, 8])];
    let e = expected_shape(&layers, known, "conv2d", "kernel", 72);
    assert_eq!(e, Expected::Exact(vec![3, 3, 1, 8]));
    assert_eq!(e.written(), [3, 3, 1, 8]);
    // A shape that does not hold the tensor's values is ignored.
    assert!(matches!(
        expected_shape(&layers, known, "conv2d", "kernel", 71),
        Expected::Exact(ref s) if s == &[71]
    ));
}
