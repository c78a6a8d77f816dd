//! Hostile, damaged and odd files, and saves killed mid-way. Every reader refuses what it cannot
//! read with an `Err` naming the problem, in time linear in the file and memory bounded by a
//! cap, without blocking on something that is not a file; every writer replaces its file
//! atomically, and the next save removes the temporary files of a crashed one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dl::data::text::{self, TextVectorizer};
use dl::data::{idx, mnist};
use dl::prelude::*;
use dl::weights;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Net {
        input: [3],
        Dense(4, relu),
        Dense(2, softmax),
    }
}

const MODULES: [&str; 2] = ["fc1", "fc2"];

/// An empty directory of this test's own.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-hostile-files-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
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

// ---- Vocabularies

#[test]
fn a_vocabulary_cut_inside_a_token_is_refused() {
    let v = TextVectorizer::fit_tokens(["alpha", "beta", "beta", "gamma"], 10).unwrap();
    let bytes = v.to_bytes();
    assert_eq!(bytes, b"beta\nalpha\ngamma\n");
    let dir = scratch("cut");
    let path = dir.join("vocabulary.txt");
    for cut in 1..bytes.len() {
        fs::write(&path, &bytes[..cut]).unwrap();
        let loaded = TextVectorizer::load(&path);
        if bytes[cut - 1] == b'\n' {
            // Documented acceptance: cut right after a newline, the file is a vocabulary of the
            // first tokens (the format, Keras's, has no count).
            let lines = bytes[..cut].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(loaded.unwrap().vocabulary_size(), 2 + lines);
        } else {
            let e = loaded.unwrap_err().to_string();
            assert!(e.contains("without a newline: cut short?"), "cut at {cut}: {e}");
            assert!(e.starts_with(&path.display().to_string()), "{e}");
        }
    }
    // A `\r\n` line end, as an editor on Windows writes, reads as `\n`.
    assert_eq!(
        TextVectorizer::from_bytes(b"beta\r\nalpha\r\ngamma\r\n").unwrap(),
        v
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fit_refuses_tokens_a_vocabulary_file_cannot_hold() {
    let long = "x".repeat(text::MAX_TOKEN_BYTES + 1);
    for (bad, why) in [
        ("", "an empty token"),
        ("two words", "holds whitespace ' '"),
        ("two\nlines", "holds whitespace '\\n'"),
        ("tab\t", "holds whitespace '\\t'"),
        ("cr\r", "holds whitespace '\\r'"),
        ("nbsp\u{a0}", "holds whitespace '\\u{a0}'"),
        (&long, "1025 bytes long, more than the 1024 of a token"),
    ] {
        let e = TextVectorizer::fit_tokens(["fine", "fine", bad, "fine"], 100)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("token 2 "), "{bad:?}: {e}");
        assert!(e.contains(why), "{bad:?}: {e}");
    }
    // `fit` splits on whitespace, so only a word too long is left to refuse.
    let text = format!("short {long} words");
    let e = TextVectorizer::fit([text.as_str()], 100).unwrap_err().to_string();
    assert!(e.contains("more than the 1024"), "{e}");

    // Whatever `fit_tokens` accepts, `save` writes and `load` reads back.
    let longest = "y".repeat(text::MAX_TOKEN_BYTES);
    let odd = [
        "[UNK]",
        "naïve",
        "nul\0byte",
        "ctrl\u{1}",
        longest.as_str(),
        "émoji🙂",
        "a\u{200b}b",
    ];
    let v = TextVectorizer::fit_tokens(odd, 100).unwrap();
    assert_eq!(v.vocabulary_size(), 2 + odd.len());
    let dir = scratch("odd");
    let path = dir.join("vocabulary.txt");
    v.save(&path).unwrap();
    assert_eq!(TextVectorizer::load(&path).unwrap(), v);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vocabulary_files_are_capped_and_refused_lines_named() {
    let dir = scratch("vocab-cap");
    let path = dir.join("vocabulary.txt");
    // 512 MiB of NUL bytes (a sparse file: no disk used), once read as a single token.
    let f = fs::File::create(&path).unwrap();
    f.set_len(512 << 20).unwrap();
    drop(f);
    let t = Instant::now();
    let e = TextVectorizer::load(&path).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "the file is longer than the 33554432 bytes a vocabulary file may have (not a vocabulary?)"
        ),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    for (file, message) in [
        (
            format!("ok\n{}\n", "z".repeat(5000)),
            "line 2: \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"… is not a token of a saved vocabulary: 5000 bytes \
             long, more than the 1024 of a token",
        ),
        (
            "a\n\nb\n".to_string(),
            "line 2: \"\" is not a token of a saved vocabulary: an empty token",
        ),
        (
            "a\nb c\n".to_string(),
            "line 2: \"b c\" is not a token of a saved vocabulary: holds whitespace",
        ),
        (
            "a\nb\na\n".to_string(),
            "line 3: \"a\" is not a token of a saved vocabulary: it repeats line 1",
        ),
    ] {
        fs::write(&path, &file).unwrap();
        let e = TextVectorizer::load(&path).unwrap_err().to_string();
        assert!(e.contains(message), "{e}");
    }
    // One token more than a file may hold, found by `load` and refused by `save` alike.
    let mut many = Vec::new();
    for i in 0..=text::MAX_VOCABULARY_TOKENS {
        // Short distinct tokens: `i` in base 94, in the printable ASCII from `!`.
        let mut n = i;
        loop {
            many.push(b'!' + (n % 94) as u8);
            n /= 94;
            if n == 0 {
                break;
            }
        }
        many.push(b'\n');
    }
    fs::write(&path, &many).unwrap();
    let e = TextVectorizer::load(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("line 1048577: more than the 1048576 tokens a vocabulary file may have"),
        "{e}"
    );
    let many = std::str::from_utf8(&many).unwrap();
    let v = TextVectorizer::fit_tokens(many.lines(), usize::MAX).unwrap();
    fs::write(&path, b"before\n").unwrap();
    let e = v.save(&path).unwrap_err().to_string();
    assert!(e.contains("the vocabulary has 1048577 tokens"), "{e}");
    assert_eq!(fs::read(&path).unwrap(), b"before\n");
    assert_eq!(entries(&dir), ["vocabulary.txt"]);

    fs::write(&path, b"ok\n\xff\xfe\n").unwrap();
    let e = TextVectorizer::load(&path).unwrap_err().to_string();
    assert!(e.contains("line 2: not UTF-8"), "{e}");
    // An empty file is the vocabulary of no tokens, as `save` writes it.
    let empty = TextVectorizer::fit_tokens([], 10).unwrap();
    assert_eq!(empty.to_bytes(), b"");
    fs::write(&path, b"").unwrap();
    assert_eq!(TextVectorizer::load(&path).unwrap(), empty);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_large_vocabulary_loads_in_linear_time() {
    // 200 000 tokens: the pairwise duplicate check took 22 s for 80 000.
    let n = 200_000;
    let mut file: String = (0..n).map(|i| format!("token{i}\n")).collect();
    let t = Instant::now();
    let v = TextVectorizer::from_bytes(file.as_bytes()).unwrap();
    let took = t.elapsed();
    assert_eq!(v.vocabulary_size(), n + 2);
    assert_eq!(v.id("token199999"), 200_001);
    assert!(took < Duration::from_secs(5), "{n} tokens took {took:?}");
    // The duplicate is still found, at the end.
    file.push_str("token7\n");
    let e = TextVectorizer::from_bytes(file.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("line 200001: \"token7\" is not a token of a saved vocabulary: it repeats line 8"),
        "{e}"
    );
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

// ---- Files that are not files

/// Runs `read` on another thread and returns its result, failing (rather than hanging) if it
/// does not return within 20 s; a reader stuck opening `fifo` is then released by opening its
/// other end.
#[cfg(unix)]
fn within_time<T: Send + 'static>(fifo: &Path, read: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(read()).unwrap());
    match receive.recv_timeout(Duration::from_secs(20)) {
        Ok(result) => result,
        Err(_) => {
            drop(fs::OpenOptions::new().write(true).open(fifo));
            panic!("the reader blocked on a FIFO");
        }
    }
}

#[cfg(unix)]
#[test]
fn readers_refuse_a_fifo_without_blocking() {
    let dir = scratch("fifo");
    let names = [
        "model.safetensors",
        "vocabulary.txt",
        "images.idx",
        "images.idx.gz",
    ];
    for name in names {
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join(name))
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
    }
    let at = |name: &str| dir.join(name);
    let refused = |name: &str, e: String| {
        assert!(
            e.ends_with("a FIFO (named pipe), not a regular file; refusing to read it"),
            "{name}: {e}"
        );
        assert!(e.starts_with(&at(name).display().to_string()), "{e}");
    };

    let (p, f) = (at("model.safetensors"), at("model.safetensors"));
    let e = within_time(&f, move || {
        let mut net = net_of(0.5);
        let e = weights::load(&mut net, &p).unwrap_err().to_string();
        assert_eq!(bits(&net), bits(&net_of(0.5)));
        e
    });
    refused("model.safetensors", e);
    let p = at("model.safetensors");
    let e = within_time(&f, move || {
        let (mut net, mut adam) = (net_of(0.5), Adam::default());
        weights::load_checkpoint(&mut net, &mut adam, &p)
            .unwrap_err()
            .to_string()
    });
    refused("model.safetensors", e);
    let p = at("model.safetensors");
    let e = within_time(&f, move || {
        weights::load_pytorch(&mut net_of(0.5), &p, &MODULES)
            .unwrap_err()
            .to_string()
    });
    refused("model.safetensors", e);

    let (p, f) = (at("vocabulary.txt"), at("vocabulary.txt"));
    let e = within_time(&f, move || TextVectorizer::load(&p).unwrap_err().to_string());
    refused("vocabulary.txt", e);

    for name in ["images.idx", "images.idx.gz"] {
        let (p, f) = (at(name), at(name));
        let e = within_time(&f, move || idx::read(&p).unwrap_err().to_string());
        refused(name, e);
        let (p, f) = (at(name), at(name));
        let e = within_time(&f, move || mnist::load(&p, &p).unwrap_err().to_string());
        refused(name, e);
    }

    // A directory is refused as clearly.
    let e = TextVectorizer::load(&dir).unwrap_err().to_string();
    assert!(
        e.ends_with("a directory, not a regular file; refusing to read it"),
        "{e}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

// ---- IDX

fn gzip(parts: &[&[u8]], zeros: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for p in parts {
        gz.write_all(p).unwrap();
    }
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        gz.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    gz.finish().unwrap()
}

#[test]
fn idx_files_are_read_no_further_than_their_header_declares() {
    let dir = scratch("idx");
    let path = dir.join("labels.idx.gz");
    // A header for one byte, then 256 MiB of zeros that a compressed file holds in 256 KB.
    fs::write(&path, gzip(&[&[0, 0, 8, 1, 0, 0, 0, 1], &[7]], 256 << 20)).unwrap();
    let t = Instant::now();
    let e = idx::read(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("IDX dimensions [1] need 1 bytes of data, found more"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    // A header declaring more than the cap is refused before any data is read.
    fs::write(
        &path,
        gzip(&[&[0, 0, 8, 3, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 2]], 0),
    )
    .unwrap();
    let e = idx::read(&path).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "IDX dimensions [32768, 32768, 2] declare 2147483648 bytes of data, more than the 1073741824 this \
             reader accepts"
        ),
        "{e}"
    );

    let path = dir.join("labels.idx");
    fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 2, 7, 9]).unwrap();
    assert_eq!(idx::read(&path).unwrap().data, [7, 9]);
    assert_eq!(idx::read_with_limit(&path, 2).unwrap().dims, [2]);
    let e = idx::read_with_limit(&path, 1).unwrap_err().to_string();
    assert!(
        e.contains("declare 2 bytes of data, more than the 1 this reader accepts"),
        "{e}"
    );
    fs::write(&path, [0, 0, 8, 1, 0, 0, 0, 2, 7]).unwrap();
    let e = idx::read(&path).unwrap_err().to_string();
    assert!(
        e.ends_with("IDX dimensions [2] need 2 bytes of data, found 1"),
        "{e}"
    );
    fs::write(&path, [0, 0, 8, 2, 0, 0, 0]).unwrap();
    let e = idx::read(&path).unwrap_err().to_string();
    assert!(e.ends_with("file ends inside the IDX dimensions"), "{e}");
    fs::remove_dir_all(&dir).unwrap();
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

// ---- Leftovers of crashed saves

/// Every way `dl` writes a file, each to `path`.
fn save_each_kind(path: &Path, kind: usize) {
    let net = net_of(0.25);
    match kind {
        0 => weights::save(&net, path).unwrap(),
        1 => weights::save_checkpoint(&net, &Adam::default(), 3, path).unwrap(),
        2 => weights::save_pytorch(&net, path, &MODULES).unwrap(),
        _ => TextVectorizer::fit_tokens(["a", "b"], 10)
            .unwrap()
            .save(path)
            .unwrap(),
    }
}

#[test]
fn a_save_removes_the_temporary_files_of_crashed_saves_and_only_those() {
    let dir = scratch("leftovers");
    for kind in 0..4 {
        let target = dir.join("file");
        save_each_kind(&target, kind);
        // What a save killed mid-write leaves: its temporary file, of any pid and count.
        for stale in [".file.4242.0.tmp", ".file.1.17.tmp"] {
            fs::write(dir.join(stale), b"half a file").unwrap();
        }
        // A save in progress, in another process: its file is locked.
        let in_progress = dir.join(".file.4243.0.tmp");
        let held = fs::File::create(&in_progress).unwrap();
        held.lock().unwrap();
        // Files that only look alike.
        for other in [
            ".file.backup.tmp",
            ".file.1.2.tmp.bak",
            ".file.1.tmp",
            "file.1.2.tmp",
            ".other.1.2.tmp",
        ] {
            fs::write(dir.join(other), b"mine").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("file"), dir.join(".file.9.9.tmp")).unwrap();

        save_each_kind(&target, kind);
        let mut expected = vec![
            ".file.1.2.tmp.bak",
            ".file.1.tmp",
            ".file.4243.0.tmp",
            ".file.backup.tmp",
            ".other.1.2.tmp",
            "file",
            "file.1.2.tmp",
        ];
        if cfg!(unix) {
            expected.push(".file.9.9.tmp");
            expected.sort();
        }
        assert_eq!(entries(&dir), expected, "kind {kind}");
        // Once that save is over (here: gone without renaming), the next save removes it.
        drop(held);
        save_each_kind(&target, kind);
        expected.retain(|e| *e != ".file.4243.0.tmp");
        assert_eq!(entries(&dir), expected, "kind {kind}");
        for e in expected {
            fs::remove_file(dir.join(e)).unwrap();
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_saves_to_one_path_all_succeed_and_leave_one_whole_file() {
    // Each save removes the temporary files it takes for leftovers: never those of the saves
    // running beside it.
    let dir = scratch("concurrent");
    let target = dir.join("run.safetensors");
    std::thread::scope(|s| {
        for t in 0..4 {
            let target = &target;
            s.spawn(move || {
                for i in 0..25 {
                    let value = (t * 100 + i) as f32;
                    weights::save_checkpoint(&net_of(value), &Adam::default(), t * 100 + i, target).unwrap();
                }
            });
        }
    });
    let (mut net, mut adam) = (Net::zeros(), Adam::default());
    let epoch = weights::load_checkpoint(&mut net, &mut adam, &target).unwrap();
    assert_eq!(bits(&net), bits(&net_of(epoch as f32)));
    assert_eq!(entries(&dir), ["run.safetensors"]);
    fs::remove_dir_all(&dir).unwrap();
}

// ---- kill -9

const SAVER: &str = "DL_HOSTILE_FILES_SAVER";
/// Tokens of each saved vocabulary: enough that writing one takes a while.
const TOKENS: usize = 30_000;

/// The vocabulary file of generation `g`: `TOKENS + g % 7` tokens, all naming `g`.
fn vocabulary_file_of(g: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..TOKENS + g as usize % 7 {
        writeln!(bytes, "g{g}_{i}").unwrap();
    }
    bytes
}

fn vocabulary(g: u64) -> TextVectorizer {
    TextVectorizer::from_bytes(&vocabulary_file_of(g)).unwrap()
}

/// The generation of a loaded vocabulary, checking that it is whole.
fn generation_of(v: &TextVectorizer) -> u64 {
    let first = v.token(2).expect("a torn vocabulary: no tokens");
    let g: u64 = first[1..first.find('_').unwrap()].parse().unwrap();
    assert!(
        v.to_bytes() == vocabulary_file_of(g),
        "a torn vocabulary of generation {g}"
    );
    g
}

/// The child: saves checkpoints and vocabularies of increasing generations until killed.
fn saver(dir: &Path, first: u64) -> ! {
    for g in first.. {
        weights::save_checkpoint(
            &net_of(g as f32),
            &Adam::default(),
            g as usize,
            dir.join("run.safetensors"),
        )
        .unwrap();
        vocabulary(g).save(dir.join("vocabulary.txt")).unwrap();
    }
    unreachable!()
}

#[test]
fn kill_9_during_saves_leaves_a_whole_file_and_the_next_save_no_leftovers() {
    if let Ok(dir) = std::env::var(SAVER) {
        let first = std::env::var("DL_HOSTILE_FILES_FIRST").unwrap().parse().unwrap();
        saver(Path::new(&dir), first);
    }
    let dir = scratch("kill");
    let (checkpoint, vocabulary_file) = (dir.join("run.safetensors"), dir.join("vocabulary.txt"));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (mut last_epoch, mut last_generation, mut leftovers) = (0, 0, 0);
    let start = Instant::now();
    for kill in 0..20u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "kill_9_during_saves_leaves_a_whole_file_and_the_next_save_no_leftovers",
                "--exact",
                "--nocapture",
            ])
            .env(SAVER, &dir)
            .env("DL_HOSTILE_FILES_FIRST", (kill * 100_000 + 1).to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Let it save a few times, then kill it at a moment that falls anywhere in a save.
        std::thread::sleep(Duration::from_millis(rng.random_range(30..200)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the saver ended on its own: {status:?}");

        if checkpoint.exists() {
            let (mut net, mut adam) = (Net::zeros(), Adam::default());
            let epoch = weights::load_checkpoint(&mut net, &mut adam, &checkpoint).unwrap();
            assert_eq!(bits(&net), bits(&net_of(epoch as f32)), "a torn checkpoint");
            assert!(epoch >= last_epoch);
            last_epoch = epoch;
        }
        if vocabulary_file.exists() {
            let g = generation_of(&TextVectorizer::load(&vocabulary_file).unwrap());
            assert!(g >= last_generation);
            last_generation = g;
        }
        leftovers += entries(&dir).iter().filter(|e| e.ends_with(".tmp")).count();
        // The next save to each path removes what the killed one left, also when the saver
        // was killed before its first save finished (a slow start on a loaded machine).
        weights::save_checkpoint(
            &net_of(last_epoch as f32),
            &Adam::default(),
            last_epoch,
            &checkpoint,
        )
        .unwrap();
        vocabulary(last_generation).save(&vocabulary_file).unwrap();
        let left: Vec<String> = entries(&dir)
            .into_iter()
            .filter(|e| e.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "after kill {kill}, the next save left {left:?}");
    }
    assert!(
        last_epoch > 0 && last_generation > 0,
        "the saver never finished a save"
    );
    eprintln!(
        "20 kills in {:?}: last generation {last_generation}, {leftovers} temporary files left by kills and removed",
        start.elapsed()
    );
    fs::remove_dir_all(&dir).unwrap();
}
