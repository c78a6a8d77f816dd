use dl::prelude::*;

dl::network! {
    struct Cifar {
        input: [32, 32, 1],
        Conv2D(8, (3, 3), relu),
        GlobalAveragePooling2D,
        Dense(10, softmax),
    }
}

fn main() {
    let net = Cifar::new(&mut rand::rng());
    // A 28×28 digit where the network expects 32×32.
    let digit = SVector::<f32, { 28 * 28 }>::zeros();
    let _ = net.forward(&digit);
}
