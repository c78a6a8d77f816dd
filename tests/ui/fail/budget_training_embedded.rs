// A network embedded with `#[weights]` is never trained: a training budget on it is a mistake.
dl::network! {
    #[weights("../../fixtures/embedded/mlp.safetensors")]
    #[budget(max_training_bytes_per_sample = 1 KiB)]
    struct Embedded { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() {
    // Code that uses the embedded networks reports nothing more than the mistakes above.
    use_embedded!(Embedded, EmbeddedScratch, [0.5f32; 10]);
}
