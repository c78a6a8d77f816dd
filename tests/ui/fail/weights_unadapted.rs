// A `Normalization` whose statistics were never adapted (count 0) would embed a network that
// skips its own preprocessing: a compile error naming the layer and the fix.
dl::network! {
    #[weights("../weights/unadapted.safetensors")]
    struct Unadapted { input: [2], Normalization(), Dense(2, relu), Dense(1, sigmoid) }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() {
    // Code that uses the embedded network reports nothing more than the mistake above.
    use_embedded!(Unadapted, UnadaptedScratch, [0.5f32; 2]);
}
