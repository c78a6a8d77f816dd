// A network embedded with `#[weights]` is never trained: a training budget on it is a mistake.
dl::network! {
    #[weights("../../fixtures/embedded/mlp.safetensors")]
    #[budget(max_training_bytes_per_sample = 1 KiB)]
    struct Embedded { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

fn main() {}
