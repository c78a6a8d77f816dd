//! The network the fuzz targets load files into, shared with the seed generator.

use dl::Model;

dl::network! {
    /// A small network with three layers of different sizes.
    pub struct Net {
        input: [3],
        Dense(4, relu),
        Dense(5, tanh),
        Dense(2, softmax),
    }
}

/// Every parameter's bits, to check that a refused file changed nothing.
pub fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}
