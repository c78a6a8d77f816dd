// Add needs inputs of one shape; the error names both inputs and both shapes.
dl::network! {
    struct Net {
        input: [5],
        wide: Dense(16, relu),
        narrow: Dense(8, relu),
        Add(wide, narrow),
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
