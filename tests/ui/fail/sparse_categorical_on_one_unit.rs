use dl::prelude::*;

dl::network! {
    struct Net {
        input: [10],
        Dense(1, sigmoid),
    }
}

fn main() {
    let mut net = Net::new(&mut rand::rng());
    let x = vec![SVector::<f32, 10>::zeros(); 4];
    let y = vec![0usize; 4];
    let _ = net.fit(
        &x,
        &y,
        Fit { loss: SparseCategoricalCrossEntropy::default(), optimizer: Adam::default(), ..Fit::default() },
    );
}
