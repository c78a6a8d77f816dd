use dl::prelude::*;

dl::network! {
    struct Net {
        input: [10],
        Dense(1, sigmoid),
    }
}

fn main() {
    let net = Net::new(&mut rand::rng());
    let x = SVector::<f32, 784>::zeros();
    let _ = net.forward(&x);
}
