use dl::prelude::*;

dl::network! {
    /// Documented network.
    pub struct Tutorial {
        input: [10],
        /// A documented, public layer.
        pub hidden: Dense(64, activation = relu),
        Dense(units = 64, activation = "relu"),
        Dense(1, sigmoid),
    }
}

fn main() {
    let mut net = Tutorial::new(&mut rand::rng());
    let x = vec![SVector::<f32, 10>::zeros(); 8];
    let y = vec![1.0f32; 8];
    let cfg = Fit { loss: BinaryCrossEntropy::default(), optimizer: Adam::default(), verbose: false, ..Fit::default() };
    net.fit(&x, &y, cfg).unwrap();
    let _: SVector<f32, 1> = net.forward(&x[0]);
    let _ = net.hidden.kernel.nrows();
}
