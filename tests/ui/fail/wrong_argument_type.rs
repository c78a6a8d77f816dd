dl::network! {
    struct Net {
        input: [10],
        Dense(sixty_four, relu),
        Dense(1.5, 2),
    }
}

fn main() {}
