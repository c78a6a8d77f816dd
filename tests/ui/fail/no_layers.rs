dl::network! {
    struct Net {
        input: [10],
    }
}

fn main() {}
