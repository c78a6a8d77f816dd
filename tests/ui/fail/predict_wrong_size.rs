use dl::prelude::*;

dl::network! {
    struct Net {
        input: [10],
        Dense(1, sigmoid),
    }
}

fn main() {
    let net = Net::new(&mut rand::rng());
    let x = vec![SVector::<f32, 9>::zeros(); 4];
    let _ = net.predict(&x);
}
