// `dl` without `std` has no trainer: a declaration without `#[weights]` is refused.
dl::network! {
    pub struct Classifier {
        input: [4],
        Dense(8, relu),
        Dense(1, sigmoid),
    }
}

fn main() {}
