dl::network! {
    struct Net {
        input: [784],
        hidden: Dense(64, relu),
        Conv2D(8, (3, 3), relu),
        MaxPooling2D,
    }
}

fn main() {}
