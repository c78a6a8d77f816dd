//! The Brown-corpus genre task of the text examples (from the shipped data's README): the 10
//! genres with the most documents; words lowercased with their part-of-speech tags stripped; a
//! vocabulary of the 10,000 ids Keras's `TextVectorization(max_tokens=10000)` would keep
//! (padding, `[UNK]` and the 9,998 most frequent training words); each document cut into
//! non-overlapping 100-token windows labelled with its genre; train and test split by document
//! (a fifth of each genre's documents, chosen with a fixed seed, is held out), so no document
//! has windows on both sides.
//!
//! The command line the text examples share: `NAME [seed] [--export-windows DIR]`. The second
//! form also writes the windows as raw little-endian u32 files (`train_x.u32`, `train_y.u32`,
//! `test_x.u32`, `test_y.u32`), so the scripts in `benches/peers/` train on exactly these.

#[path = "command_line.rs"]
mod command_line;
#[path = "training_report.rs"]
pub mod training_report;

use std::io::Read;

use dl::data::text::TextVectorizer;
use dl::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

pub const WINDOW: usize = 100;
pub const VOCABULARY: usize = 10_000;
pub const GENRES: usize = 10;
/// Epochs of training, as in Keras's tutorial.
pub const EPOCHS: usize = 10;

pub type Window = Tokens<WINDOW, VOCABULARY>;

/// The windows, their genres' indices into `genres`, and the genres.
pub struct Windows {
    pub train_x: Vec<Window>,
    pub train_y: Vec<usize>,
    pub test_x: Vec<Window>,
    pub test_y: Vec<usize>,
    pub genres: Vec<String>,
}

struct Document {
    genre: String,
    words: Vec<String>,
}

/// The seed (default 1) and the windows, written to the `--export-windows` directory if given.
pub fn from_command_line() -> Result<(u64, Windows), Box<dyn std::error::Error>> {
    let (seed, export) = command_line::seed_and_export("--export-windows")?;
    let windows = load()?;
    if let Some(dir) = export {
        windows.export(std::path::Path::new(&dir))?;
        println!("windows written to {dir}");
    }
    Ok((seed, windows))
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

fn load() -> Result<Windows, Box<dyn std::error::Error>> {
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
    Ok(Windows {
        train_x,
        train_y,
        test_x,
        test_y,
        genres,
    })
}

fn windows(docs: &[&Document], genres: &[String], vectorizer: &TextVectorizer) -> (Vec<Window>, Vec<usize>) {
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

impl Windows {
    fn export(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let ids = |x: &[Window]| -> Vec<u32> { x.iter().flat_map(|t| t.ids().iter().copied()).collect() };
        write_u32s(&dir.join("train_x.u32"), ids(&self.train_x).into_iter())?;
        write_u32s(&dir.join("train_y.u32"), self.train_y.iter().map(|&c| c as u32))?;
        write_u32s(&dir.join("test_x.u32"), ids(&self.test_x).into_iter())?;
        write_u32s(&dir.join("test_y.u32"), self.test_y.iter().map(|&c| c as u32))
    }
}

/// Trains `net` as both text examples do (Adam, sparse categorical cross-entropy, `EPOCHS`
/// epochs of batch 32 shuffled with `seed`, as the scripts in `benches/peers/` train Keras) and
/// prints its history, the majority-class baseline, then its test loss and accuracy (last).
pub fn train_and_test<M>(net: &mut M, data: &Windows, seed: u64) -> Result<(), Box<dyn std::error::Error>>
where
    M: Model<Input = Window, Head = dl::Units<GENRES>> + Send + Sync,
{
    let loss = SparseCategoricalCrossEntropy::default();
    let start = std::time::Instant::now();
    let history = dl::train::fit(
        net,
        &data.train_x,
        &data.train_y,
        Fit {
            loss,
            optimizer: Adam::default(),
            epochs: EPOCHS,
            batch_size: 32,
            seed,
            ..Fit::default()
        },
    )?;
    training_report::print(&history, start.elapsed(), EPOCHS * data.train_x.len());

    // What a classifier that learned only the class balance would score: the share of the
    // test windows in the training windows' most frequent genre.
    let mut per_class = [0usize; GENRES];
    data.train_y.iter().for_each(|&c| per_class[c] += 1);
    let majority = (0..GENRES).max_by_key(|&c| per_class[c]).unwrap_or(0);
    let hits = data.test_y.iter().filter(|&&c| c == majority).count();
    let baseline = hits as f64 / data.test_y.len() as f64;
    println!(
        "majority-class baseline ({}): {baseline:.4}",
        data.genres[majority]
    );

    let result = dl::train::evaluate(net, &data.test_x, &data.test_y, &loss)?;
    println!("test loss: {:.4}", result.loss);
    println!("test accuracy: {:.4}", result.accuracy.unwrap_or(0.0));
    Ok(())
}

fn write_u32s(path: &std::path::Path, values: impl Iterator<Item = u32>) -> std::io::Result<()> {
    let bytes: Vec<u8> = values.flat_map(u32::to_le_bytes).collect();
    std::fs::write(path, bytes)
}
