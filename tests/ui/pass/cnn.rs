use dl::prelude::*;

dl::network! {
    /// Every image layer kind, with keyword and positional arguments.
    pub struct Cnn {
        input: [12, 12, 2],
        Conv2D(4, (3, 3), relu, padding = same),
        Conv2D(filters = 4, kernel_size = 3, strides = (2, 2), activation = "tanh"),
        MaxPooling2D((2, 2), padding = same),
        AveragePooling2D(pool_size = 1),
        Conv2D(6, (1, 1)),
        BatchNormalization(axis = -1, momentum = 0.9, epsilon = 1e-5, center = true, scale = true),
        GlobalMaxPooling2D,
        BatchNormalization,
        Dropout(0.25),
        Dense(3, softmax),
    }
}

fn main() {
    let mut net = Cnn::new(&mut rand::rng());
    let x = vec![SVector::<f32, { 12 * 12 * 2 }>::zeros(); 4];
    let y = vec![0usize; 4];
    let cfg = Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer: Adam::default(),
        verbose: false,
        ..Fit::default()
    };
    net.fit(&x, &y, cfg).unwrap();
    let _: SVector<f32, 3> = net.forward(&x[0]);
}
