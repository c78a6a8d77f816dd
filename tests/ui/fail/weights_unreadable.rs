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

fn main() {
    // Uses of the broken networks report nothing more.
    let _ = Absent::EMBEDDED.forward::<[f32; 2], [f32; 1]>(&[0.0; 2]);
}
