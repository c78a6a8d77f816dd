//! dl's tutorial MLP and CNN declared with dfdx 0.13, each built and run forward once: the dfdx
//! side of `benches/peers/run.sh --compile-time`, which times `touch src/main.rs && cargo build
//! --release`. The CNN needs the `cnn` feature (dfdx's `nightly`).

use dfdx::prelude::*;

/// The tutorial's binary classifier (the sigmoid is applied after the forward).
type Tutorial = (Linear<10, 64>, ReLU, Linear<64, 64>, ReLU, Linear<64, 1>);

/// The tutorial's digit classifier, channels first as dfdx wants them.
#[cfg(feature = "cnn")]
type MnistCnn = (
    (Conv2D<1, 32, 3>, ReLU, MaxPool2D<2>),
    (Conv2D<32, 64, 3>, ReLU, MaxPool2D<2>),
    Flatten2D,
    (Linear<1600, 64>, ReLU, Linear<64, 10>),
);

fn main() {
    let dev = Cpu::seed_from_u64(0);
    let mlp = dev.build_module::<Tutorial, f32>();
    let x: Tensor<Rank1<10>, f32, Cpu> = dev.sample_uniform();
    println!("mlp: {}", mlp.forward(x).sigmoid().array()[0]);
    #[cfg(feature = "cnn")]
    {
        let cnn = dev.build_module::<MnistCnn, f32>();
        let image: Tensor<Rank3<1, 28, 28>, f32, Cpu> = dev.sample_uniform();
        println!("cnn: {}", cnn.forward(image).softmax().array().iter().sum::<f32>());
    }
}
