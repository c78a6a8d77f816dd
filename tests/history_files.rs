//! A `History` written as CSV and drawn as SVG and PNG, as a user does after `fit`.

use dl::metrics::Metric;
use dl::prelude::*;
use dl::train::History;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Net {
        input: [2],
        Dense(8, tanh),
        Dense(1, sigmoid),
    }
}

fn history() -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (x, y): (Vec<SVector<f32, 2>>, Vec<f32>) = (0..120)
        .map(|_| {
            let x = SVector::<f32, 2>::from_fn(|_, _| rng.random_range(-1.0..1.0));
            (x, f32::from(u8::from(x[0] * x[1] > 0.0)))
        })
        .unzip();
    Net::seeded(2)
        .fit(
            &x,
            &y,
            Fit {
                loss: BinaryCrossEntropy::default(),
                optimizer: Adam::new(0.02),
                epochs: 4,
                validation_split: 0.25,
                metrics: vec![Metric::auc(), Metric::recall()],
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap()
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn csv_holds_every_key_of_every_epoch_as_it_reads_back() {
    let h = history();
    let path = temp("h.csv");
    h.write_csv(&path).unwrap();
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "epoch",
            "loss",
            "accuracy",
            "auc",
            "recall",
            "val_loss",
            "val_accuracy",
            "val_auc",
            "val_recall",
            "learning_rate",
            "seconds"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for (row, epoch) in rows.iter().zip(&h.epochs) {
        assert_eq!(row[0], epoch.epoch.to_string());
        for (key, field) in header[1..header.len() - 1].iter().zip(&row[1..]) {
            assert_eq!(field.parse::<f32>().ok(), epoch.get(key), "{key}");
        }
    }
}

#[test]
fn pictures_show_a_panel_per_quantity_with_training_and_validation() {
    let h = history();
    let svg = h.to_svg().unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    // The text of every `<text …>…</text>` element.
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].trim())
        .collect();
    for text in [
        "loss",
        "accuracy",
        "auc",
        "recall",
        "epoch",
        "training",
        "validation",
    ] {
        assert!(
            texts.contains(&text),
            "{text} missing from the SVG's texts {texts:?}"
        );
    }
    // The learning rate did not change: no panel for it.
    assert!(!texts.contains(&"learning_rate"));

    let path = temp("h.png");
    h.write_png(&path).unwrap();
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    // Four panels, two to a row, under the legend.
    assert_eq!((be(16), be(20)), (2 * 520, 40 + 2 * 340));
    h.write_svg(temp("h.svg")).unwrap();
}

#[test]
fn errors_name_the_problem() {
    let empty = History::default();
    let message = "the history holds no epochs, so there is nothing to";
    assert_eq!(
        empty.to_csv().unwrap_err().to_string(),
        format!("{message} write")
    );
    assert_eq!(empty.to_svg().unwrap_err().to_string(), format!("{message} draw"));
    assert_eq!(
        empty.write_png(temp("e.png")).unwrap_err().to_string(),
        format!("{message} draw")
    );
    let missing = temp("no/such/dir/h.csv");
    let e = history().write_csv(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
}
