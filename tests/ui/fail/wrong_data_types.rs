// Data and labels of the wrong type: each call is one error in dl's terms, saying what the
// network takes (its declared input) or which labels the loss takes on this network.
use dl::prelude::*;

dl::network! {
    struct Digits {
        input: [4],
        Dense(8, relu),
        Dense(3, softmax),
    }
}

dl::network! {
    struct Binary {
        input: [4],
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Regression {
        input: [4],
        Dense(2),
    }
}

dl::network! {
    struct Reviews {
        input: tokens[20],
        Embedding(500, 8),
        GlobalAveragePooling1D,
        Dense(1, sigmoid),
    }
}

fn samples() -> Vec<SVector<f32, 4>> {
    vec![SVector::zeros(); 2]
}

fn fit_config<T, L: Default>() -> Fit<'static, SVector<f32, 4>, T, L, Adam> {
    Fit { optimizer: Adam::default(), ..Fit::default() }
}

fn main() -> Result<(), dl::Error> {
    let mut digits = Digits::new(&mut rand::rng());
    let mut binary = Binary::new(&mut rand::rng());
    let mut regression = Regression::new(&mut rand::rng());

    // Class indices given as floats to sparse categorical cross-entropy.
    let h = digits.fit(&samples(), &[0.0f32, 2.0], fit_config::<_, SparseCategoricalCrossEntropy>())?;
    println!("{:?}", h.loss());

    // Class indices given to categorical cross-entropy, which takes one-hot vectors.
    let h = digits.fit(&samples(), &[0usize, 2], fit_config::<_, CategoricalCrossEntropy>())?;
    println!("{:?}", h.loss());

    // Class indices given to binary cross-entropy, which takes `f32`.
    let h = binary.fit(&samples(), &[0usize, 1], fit_config::<_, BinaryCrossEntropy>())?;
    println!("{:?}", h.loss());

    // One value per sample for a two-unit regression.
    let e = regression.evaluate(&samples(), &[0.5f32, 1.5], &MeanSquaredError)?;
    println!("{}", e.loss);

    // Rows as `Vec<f32>`.
    let rows = vec![vec![0.0f32; 4]; 2];
    let p = digits.predict(&rows);
    println!("{}", p[0][0]);

    // Rows as arrays.
    let e = digits.evaluate(&[[0.0f32; 4]; 2], &[0usize, 1], &SparseCategoricalCrossEntropy::default())?;
    println!("{}", e.loss);

    // Samples of another size.
    let p = binary.forward(&SVector::<f32, 5>::zeros());
    println!("{}", p[0]);

    // Token ids below another vocabulary.
    let reviews = Reviews::new(&mut rand::rng());
    let p = reviews.forward(&Tokens::<20, 1000>::new([0; 20]).unwrap());
    println!("{}", p[0]);
    Ok(())
}
