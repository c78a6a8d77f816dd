use dl::prelude::*;

dl::network! {
    struct Net {
        input: [10],
        Dense(10, softmax),
    }
}

fn main() {
    let mut net = Net::new(&mut rand::rng());
    let x = vec![SVector::<f32, 10>::zeros(); 4];
    let y = vec![0.0f32; 4];
    let _ = net.fit(&x, &y, Fit { loss: BinaryCrossEntropy::default(), optimizer: Adam::default(), ..Fit::default() });
}
