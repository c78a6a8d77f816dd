// Each weight file differs from the declaration in one way; each is a compile error naming the
// tensor, with what the layer needs and what the file holds.
dl::network! {
    #[weights("../weights/missing.safetensors")]
    struct Missing { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/extra.safetensors")]
    struct Extra { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/shape.safetensors")]
    struct WrongShape { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/dtype.safetensors")]
    struct WrongDtype { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

dl::network! {
    #[weights("../weights/nan.safetensors")]
    struct NotFinite { input: [2], Dense(2, relu), Dense(1, sigmoid) }
}

// The file is right but the declaration has another layer size.
dl::network! {
    #[weights("../weights/good.safetensors")]
    struct WrongUnits { input: [2], Dense(3, relu), Dense(1, sigmoid) }
}

fn main() {}
