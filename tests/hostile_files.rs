//! Hostile, damaged and odd files, and saves killed mid-way. Every reader refuses what it cannot
//! read with an `Err` naming the problem, in time linear in the file and memory bounded by a
//! cap, without blocking on something that is not a file; every writer replaces its file
//! atomically, and the next save removes the temporary files of a crashed one.

use std::time::{Duration, Instant};

use dl::prelude::*;
use dl::weights;

dl::network! {
    struct Net {
        input: [3],
        Dense(4, relu),
        Dense(2, softmax),
    }
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

/// A network whose every weight is `value`.
fn net_of(value: f32) -> Net {
    let mut net = Net::zeros();
    net.for_each_param_mut(|_, _, v| v.fill(value));
    net
}

// ---- Weights

/// A safetensors file whose header has `keys` metadata keys, then `extra`.
fn metadata_file(keys: usize, extra: &str) -> Vec<u8> {
    let mut header = String::from("{\"__metadata__\":{");
    for i in 0..keys {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!("\"key{i:08}\":\"v\""));
    }
    header.push_str(extra);
    header.push_str("}}");
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes
}

#[test]
fn a_large_metadata_header_parses_in_linear_time() {
    // 150 000 keys, 2.7 MB: the pairwise duplicate check took 25 s for 100 000.
    let keys = 150_000;
    let file = metadata_file(keys, "");
    assert!(file.len() > 2_700_000);
    let mut net = net_of(0.5);
    let t = Instant::now();
    let e = weights::from_bytes(&mut net, &file).unwrap_err().to_string();
    let took = t.elapsed();
    assert!(e.contains("missing tensors `dense.kernel`"), "{e}");
    assert!(took < Duration::from_secs(5), "{keys} keys took {took:?}");
    let e = weights::from_bytes(&mut net, &metadata_file(keys, ",\"key00000003\":\"w\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`__metadata__` has `key00000003` twice"), "{e}");
    assert_eq!(bits(&net), bits(&net_of(0.5)));
}

// ---- Threads

#[test]
fn fit_refuses_thousands_of_threads_before_starting_them() {
    let x = vec![SVector::<f32, 3>::zeros(); 8];
    let y = vec![0usize; 8];
    let mut net = net_of(0.5);
    let t = Instant::now();
    let e = net
        .fit(
            &x,
            &y,
            Fit {
                loss: SparseCategoricalCrossEntropy::default(),
                optimizer: Sgd::new(0.1),
                parallel: Parallel::new(2).with_threads(10_000),
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        e.starts_with(
            "could not start a pool of 10000 training threads: Parallel::threads may be at most 256"
        ),
        "{e}"
    );
    assert_eq!(bits(&net), bits(&net_of(0.5)));
    // The cap leaves every sensible pool alone.
    let history = net.fit(
        &x,
        &y,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Sgd::new(0.1),
            parallel: Parallel::new(2).with_threads(4),
            verbose: false,
            ..Fit::default()
        },
    );
    assert!(history.is_ok());
}
