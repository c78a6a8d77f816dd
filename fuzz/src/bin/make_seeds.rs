//! Writes a seed corpus for the `load` target into `fuzz/seeds/load/` (a weights file and a
//! checkpoint of [`Net`]), for `load_pytorch` into `fuzz/seeds/load_pytorch/`, for
//! `checkpoint_train` (the checkpoint), `vocabulary` (a saved vocabulary) and `idx` (two MNIST
//! images and their labels, as the target splits its input), so that the fuzzer starts from
//! valid files and mutates them.
//! Runs on stable: `cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds`.

use dl::data::text::TextVectorizer;
use dl::{Adam, Model, Optimizer, weights};
use dl_fuzz::Net;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/load");
    std::fs::create_dir_all(&dir).unwrap();
    let mut net = Net::zeros();
    net.for_each_param_mut(|_, _, v| {
        v.iter_mut()
            .enumerate()
            .for_each(|(i, w)| *w = i as f32 * 0.25 - 1.0)
    });
    std::fs::write(dir.join("weights.safetensors"), weights::to_bytes(&net).unwrap()).unwrap();

    let mut adam = Adam::default();
    let grads = net.clone();
    adam.begin_step();
    let mut offset = 0;
    net.zip_params_mut(&grads, |p, g| {
        adam.update(offset, p, g);
        offset += p.len();
    });
    let checkpoint = weights::checkpoint_to_bytes(&net, &adam, 3).unwrap();
    std::fs::write(dir.join("checkpoint.safetensors"), &checkpoint).unwrap();
    println!("wrote seeds to {}", dir.display());

    let seeds = |name: &str| {
        let d = dir.with_file_name(name);
        std::fs::create_dir_all(&d).unwrap();
        println!("wrote seeds to {}", d.display());
        d
    };
    std::fs::write(
        seeds("checkpoint_train").join("checkpoint.safetensors"),
        &checkpoint,
    )
    .unwrap();

    let vocabulary = TextVectorizer::fit(["the cat sat on the mat", "the dog sat"], 100).unwrap();
    std::fs::write(seeds("vocabulary").join("vocabulary.txt"), vocabulary.to_bytes()).unwrap();

    // The `idx` target's input: the length of the images file in two bytes, the images file,
    // the labels file.
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..2 * 28 * 28).map(|i| (i % 251) as u8));
    let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 7];
    let mut mnist = (images.len() as u16).to_be_bytes().to_vec();
    mnist.extend_from_slice(&images);
    mnist.extend_from_slice(&labels);
    std::fs::write(seeds("idx").join("mnist"), mnist).unwrap();

    let dir = dir.with_file_name("load_pytorch");
    std::fs::create_dir_all(&dir).unwrap();
    let state_dict = weights::pytorch::to_pytorch_bytes(&net, &["fc1", "fc2", "fc3"]).unwrap();
    std::fs::write(dir.join("state_dict.safetensors"), state_dict).unwrap();
    println!("wrote seeds to {}", dir.display());
}
