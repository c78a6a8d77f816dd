//! Feeds arbitrary bytes to the IDX reader, plain and gzip-compressed, and to the MNIST loader.
//! Nothing may panic or read beyond the data a header declares; the streaming reader that
//! files go through must agree with `idx::parse`; MNIST data that loads must be whole images of
//! pixels in [0, 1] with a digit for each.

#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use dl::data::{idx, mnist};
use libfuzzer_sys::fuzz_target;

/// A cap small enough that inputs reach it.
const LIMIT: u64 = 1 << 16;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("dl-fuzz-idx-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = idx::parse(data);
    let streamed = idx::read_from(data, LIMIT);
    match (&parsed, &streamed) {
        (Ok(p), Ok(s)) => {
            assert_eq!(p, s);
            assert_eq!(p.data.len(), p.dims.iter().product::<usize>());
        }
        (Err(e), Err(_)) => assert!(!e.to_string().is_empty()),
        // Only the cap tells them apart.
        (Ok(p), Err(e)) => {
            assert!(p.data.len() as u64 > LIMIT, "{e}");
        }
        (Err(e), Ok(_)) => panic!("the streaming reader accepted what parse refuses: {e}"),
    }

    // The same bytes compressed read the same, and compressed bytes as they are do not panic.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    let gz = gz.finish().unwrap();
    let unzipped = idx::read_from(flate2::read::GzDecoder::new(&gz[..]), LIMIT);
    assert_eq!(unzipped.is_ok(), streamed.is_ok());
    let _ = idx::read_from(flate2::read::GzDecoder::new(data), LIMIT);

    // MNIST: the first two bytes say how many of the rest are the images file.
    if let [hi, lo, rest @ ..] = data {
        let split = (usize::from(*hi) << 8 | usize::from(*lo)).min(rest.len());
        let (images, labels) = rest.split_at(split);
        // Files that `idx` refuses were checked above; writing files is what makes this target
        // slow, so only pairs that reach the MNIST checks are written.
        if idx::parse(images).is_err() || idx::parse(labels).is_err() {
            return;
        }
        let (i, l) = (dir().join("images.idx"), dir().join("labels.idx"));
        std::fs::write(&i, images).unwrap();
        std::fs::write(&l, labels).unwrap();
        match mnist::load(&i, &l) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok((x, y)) => {
                assert_eq!(x.len(), y.len());
                assert!(x.iter().all(|v| v.iter().all(|p| (0.0..=1.0).contains(p))));
                assert!(y.iter().all(|&d| d <= 9));
            }
        }
    }
});
