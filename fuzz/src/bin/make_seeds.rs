//! Writes a seed corpus for the `load` target into `fuzz/seeds/load/` (a weights file and a
//! checkpoint of [`Net`]) and for `load_pytorch` into `fuzz/seeds/load_pytorch/`, so that the fuzzer starts from valid files and mutates them.
//! Runs on stable: `cargo run --manifest-path fuzz/Cargo.toml --bin make_seeds`.

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
    std::fs::write(dir.join("checkpoint.safetensors"), checkpoint).unwrap();
    println!("wrote seeds to {}", dir.display());

    let dir = dir.with_file_name("load_pytorch");
    std::fs::create_dir_all(&dir).unwrap();
    let state_dict = weights::pytorch::to_pytorch_bytes(&net, &["fc1", "fc2", "fc3"]).unwrap();
    std::fs::write(dir.join("state_dict.safetensors"), state_dict).unwrap();
    println!("wrote seeds to {}", dir.display());
}
