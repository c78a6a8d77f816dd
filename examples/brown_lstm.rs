//! The Keras tutorial's text classifier on the Brown corpus: the genre of 100-token windows.
//!
//! Embedding(10000, 64) → LSTM(64) → Dense(64, relu) → Dense(10, softmax); Adam, sparse
//! categorical cross-entropy, 10 epochs of batch 32. The task (from the shipped data's README):
//! the 10 genres with the most documents; words lowercased with their part-of-speech tags
//! stripped; a vocabulary of the 10,000 ids Keras's `TextVectorization(max_tokens=10000)` would
//! keep (padding, `[UNK]` and the 9,998 most frequent training words); each document cut into
//! non-overlapping 100-token windows labelled with its genre; train and test split by document
//! (a fifth of each genre's documents, chosen with a fixed seed, is held out), so no document
//! has windows on both sides.

use std::io::Read;

use dl::data::text::TextVectorizer;
use dl::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

const WINDOW: usize = 100;
const VOCABULARY: usize = 10_000;
const GENRES: usize = 10;

dl::network! {
    /// The tutorial's text classifier.
    pub struct TextClassifier {
        input: tokens[100],
        Embedding(10000, 64),
        LSTM(64),
        Dense(64, relu),
        Dense(10, softmax),
    }
}

struct Document {
    genre: String,
    words: Vec<String>,
}

fn read_corpus(path: &str) -> std::io::Result<Vec<Document>> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (_id, genre, body) = (fields.next()?, fields.next()?, fields.next()?);
            let words = body
                .split(' ')
                .filter_map(|t| t.rsplit_once('/').map(|(w, _tag)| w.to_lowercase()))
                .filter(|w| !w.is_empty())
                .collect();
            Some(Document {
                genre: genre.to_string(),
                words,
            })
        })
        .collect())
}

type Windows = (Vec<Tokens<WINDOW, VOCABULARY>>, Vec<usize>);

fn windows(docs: &[&Document], genres: &[String], vectorizer: &TextVectorizer) -> Windows {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for doc in docs {
        let label = genres.iter().position(|g| *g == doc.genre).expect("kept genre");
        let ids = vectorizer.encode_tokens(doc.words.iter().map(String::as_str));
        for chunk in ids.chunks_exact(WINDOW) {
            x.push(Tokens::from_slice(chunk).expect("vectorizer ids fit the vocabulary"));
            y.push(label);
        }
    }
    (x, y)
}

fn write_u32s(path: &std::path::Path, values: impl Iterator<Item = u32>) -> std::io::Result<()> {
    let bytes: Vec<u8> = values.flat_map(u32::to_le_bytes).collect();
    std::fs::write(path, bytes)
}

fn export_windows(
    dir: &std::path::Path,
    train_x: &[Tokens<WINDOW, VOCABULARY>],
    train_y: &[usize],
    test_x: &[Tokens<WINDOW, VOCABULARY>],
    test_y: &[usize],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ids = |x: &[Tokens<WINDOW, VOCABULARY>]| -> Vec<u32> {
        x.iter().flat_map(|t| t.ids().iter().copied()).collect()
    };
    write_u32s(&dir.join("train_x.u32"), ids(train_x).into_iter())?;
    write_u32s(&dir.join("train_y.u32"), train_y.iter().map(|&c| c as u32))?;
    write_u32s(&dir.join("test_x.u32"), ids(test_x).into_iter())?;
    write_u32s(&dir.join("test_y.u32"), test_y.iter().map(|&c| c as u32))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `brown_lstm [seed] [--export-windows DIR]`: the second form also writes the windows as
    // raw little-endian u32 files, so `benches/peers/brown_accuracy.py` can train Keras and
    // PyTorch on exactly these windows.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(1);
    let export = args
        .iter()
        .position(|a| a == "--export-windows")
        .map(|i| {
            args.get(i + 1)
                .cloned()
                .ok_or("--export-windows needs a directory")
        })
        .transpose()?;
    let docs = read_corpus(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/brown/brown-tagged.tsv.gz"
    ))?;

    // The 10 genres with the most documents (ties by name, for determinism).
    let mut counts: Vec<(String, usize)> = Vec::new();
    for d in &docs {
        match counts.iter_mut().find(|(g, _)| *g == d.genre) {
            Some((_, n)) => *n += 1,
            None => counts.push((d.genre.clone(), 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let genres: Vec<String> = counts.iter().take(GENRES).map(|(g, _)| g.clone()).collect();

    // Split by document, a fifth of each genre held out.
    let mut split_rng = ChaCha8Rng::seed_from_u64(2024);
    let (mut train_docs, mut test_docs) = (Vec::new(), Vec::new());
    for g in &genres {
        let mut of_genre: Vec<&Document> = docs.iter().filter(|d| d.genre == *g).collect();
        of_genre.shuffle(&mut split_rng);
        let held_out = of_genre.len() / 5;
        test_docs.extend_from_slice(&of_genre[..held_out]);
        train_docs.extend_from_slice(&of_genre[held_out..]);
    }

    let vectorizer = TextVectorizer::fit_tokens(
        train_docs.iter().flat_map(|d| d.words.iter().map(String::as_str)),
        VOCABULARY,
    )?;
    vectorizer.check_fits::<VOCABULARY>()?;
    let (train_x, train_y) = windows(&train_docs, &genres, &vectorizer);
    let (test_x, test_y) = windows(&test_docs, &genres, &vectorizer);
    println!(
        "{} training documents → {} windows; {} test documents → {} windows; vocabulary {}",
        train_docs.len(),
        train_x.len(),
        test_docs.len(),
        test_x.len(),
        vectorizer.vocabulary_size()
    );

    if let Some(dir) = export {
        export_windows(std::path::Path::new(&dir), &train_x, &train_y, &test_x, &test_y)?;
        println!("windows written to {dir}");
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = TextClassifier::new(&mut rng);
    println!("{}", net.summary());
    let start = std::time::Instant::now();
    let history = net.fit(
        &train_x,
        &train_y,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 10,
            batch_size: 32,
            seed,
            ..Fit::default()
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    println!("{history}");
    println!(
        "training: {seconds:.1} s ({:.0} samples/s)",
        10.0 * train_x.len() as f64 / seconds
    );

    // The majority class of the training windows, scored on the test windows.
    let mut per_class = [0usize; GENRES];
    train_y.iter().for_each(|&c| per_class[c] += 1);
    let majority = (0..GENRES).max_by_key(|&c| per_class[c]).unwrap_or(0);
    let baseline = test_y.iter().filter(|&&c| c == majority).count() as f64 / test_y.len() as f64;

    let result = net.evaluate(&test_x, &test_y, &SparseCategoricalCrossEntropy::default())?;
    println!("majority-class baseline ({}): {baseline:.4}", genres[majority]);
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}
