// A file that is not there, one whose header claims more bytes than it has, an attribute that
// is not a path, and two weight files for one network.
dl::network! {
    #[weights("../weights/absent.safetensors")]
    struct Absent { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/truncated.safetensors")]
    struct Truncated { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights(model)]
    struct NotAString { input: [2], Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/good.safetensors")]
    #[weights("../weights/good.safetensors")]
    struct Twice { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() {
    // Code that uses the embedded networks reports nothing more than the mistakes above.
    use_embedded!(Absent, AbsentScratch, [0.5f32; 2]);
    use_embedded!(Truncated, TruncatedScratch, [0.5f32; 2]);
    use_embedded!(NotAString, NotAStringScratch, [0.5f32; 2]);
    use_embedded!(Twice, TwiceScratch, [0.5f32; 2]);
}
