// A branching network's weight file is checked layer by layer as a stack's is: a shortcut whose
// kernel differs, and a shortcut named differently from the file's.
dl::network! {
    #[weights("../../fixtures/embedded/residual_projection.safetensors")]
    struct WideShortcut {
        input: [8, 8, 3],
        Conv2D(4, (3, 3), padding = same),
        BatchNormalization(),
        stem: Activation(relu),
        Conv2D(6, (3, 3), strides = (2, 2), padding = same),
        BatchNormalization(),
        Activation(relu),
        Conv2D(6, (3, 3), padding = same),
        main: BatchNormalization(),
        shortcut: Conv2D(6, (3, 3), strides = (2, 2), padding = same)(stem),
        Add(main, shortcut),
        Activation(relu),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    #[weights("../../fixtures/embedded/residual_projection.safetensors")]
    struct Renamed {
        input: [8, 8, 3],
        Conv2D(4, (3, 3), padding = same),
        BatchNormalization(),
        stem: Activation(relu),
        Conv2D(6, (3, 3), strides = (2, 2), padding = same),
        BatchNormalization(),
        Activation(relu),
        Conv2D(6, (3, 3), padding = same),
        main: BatchNormalization(),
        projection: Conv2D(6, (1, 1), strides = (2, 2))(stem),
        Add(main, projection),
        Activation(relu),
        Flatten,
        Dense(3, softmax),
    }
}

#[macro_use]
#[path = "../caller.rs"]
mod caller;

fn main() {
    // Code that uses the embedded networks reports nothing more than the mistakes above.
    use_embedded!(WideShortcut, WideShortcutScratch, [0.5f32; 192]);
    use_embedded!(Renamed, RenamedScratch, [0.5f32; 192]);
}
