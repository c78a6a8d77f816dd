// A misspelt tensor name, with the nearest known one.
dl::network! {
    struct Net {
        input: [5],
        stem: Dense(4, relu),
        branch: Dense(4, relu),
        Add(stem, brnch),
        Dense(1),
    }
}

fn main() -> Result<(), dl::Error> {
    // Code that uses the network as users do reports nothing more than the mistake above.
    let mut net = Net::new(&mut rand::rng());
    let x = dl::SVector::<f32, 5>::zeros();
    let p = net.forward(&x);
    println!("{}", p[0]);
    let h = net.fit(&[x], &[1.0], dl::Fit { loss: dl::MeanSquaredError, optimizer: dl::Adam::default(), ..dl::Fit::default() })?;
    println!("{:?} {}", h.loss(), Net::PARAMS);
    Ok(())
}
