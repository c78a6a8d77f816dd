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

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() {
    // Code that uses the embedded networks reports nothing more than the mistakes above.
    use_embedded!(Missing, MissingScratch, [0.5f32; 2]);
    use_embedded!(Extra, ExtraScratch, [0.5f32; 2]);
    use_embedded!(WrongShape, WrongShapeScratch, [0.5f32; 2]);
    use_embedded!(WrongDtype, WrongDtypeScratch, [0.5f32; 2]);
    use_embedded!(NotFinite, NotFiniteScratch, [0.5f32; 2]);
    use_embedded!(WrongUnits, WrongUnitsScratch, [0.5f32; 2]);
}
