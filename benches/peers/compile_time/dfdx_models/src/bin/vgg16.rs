//! VGG-16 on 32×32×3 (13 Conv2D with padding 1, 5 MaxPool2D, 3 Linear), as dl's
//! `compile_time/dl_models/src/bin/vgg16.rs`, declared with dfdx 0.13: built, run forward once and
//! trained one Adam step on a batch of 2. Needs the `cnn` feature (dfdx's `nightly`, which does
//! not build on the toolchains of the benchmark machine: `gemm-common` 0.15.5 asks for the
//! removed `stdsimd` feature), so this declaration has not been compiled there.

use dfdx::prelude::*;

type Block<const I: usize, const O: usize> = (Conv2D<I, O, 3, 1, 1>, ReLU);

/// Channels first, as dfdx wants them; the softmax is in the loss.
type Vgg16 = (
    (Block<3, 64>, Block<64, 64>, MaxPool2D<2, 2>),
    (Block<64, 128>, Block<128, 128>, MaxPool2D<2, 2>),
    (Block<128, 256>, Block<256, 256>, Block<256, 256>, MaxPool2D<2, 2>),
    (Block<256, 512>, Block<512, 512>, Block<512, 512>, MaxPool2D<2, 2>),
    (Block<512, 512>, Block<512, 512>, Block<512, 512>, MaxPool2D<2, 2>),
    (Flatten2D, (Linear<512, 4096>, ReLU), (Linear<4096, 4096>, ReLU), Linear<4096, 10>),
);

fn main() {
    let dev = Cpu::seed_from_u64(0);
    let mut net = dev.build_module::<Vgg16, f32>();
    let image: Tensor<Rank3<3, 32, 32>, f32, Cpu> = dev.sample_uniform();
    println!("vgg16: {}", net.forward(image).softmax().array().iter().sum::<f32>());
    let grads = net.alloc_grads();
    let mut opt = Adam::new(&net, Default::default());
    let x: Tensor<Rank4<2, 3, 32, 32>, f32, Cpu> = dev.sample_uniform();
    let mut y = [[0.0f32; 10]; 2];
    y[0][1] = 1.0;
    y[1][2] = 1.0;
    let logits = net.forward_mut(x.traced(grads));
    let loss = cross_entropy_with_logits_loss(logits, dev.tensor(y));
    println!("vgg16 loss: {}", loss.array());
    let mut grads = loss.backward();
    opt.update(&mut net, &grads).expect("adam step");
    net.zero_grads(&mut grads);
}
