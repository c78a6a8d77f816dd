// Concatenate joins along the last axis only.
dl::network! {
    struct Net {
        input: [6, 6, 1],
        a: Conv2D(2, (3, 3)),
        b: Conv2D(2, (3, 3))(input),
        Concatenate(a, b, axis = 1),
        Flatten,
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
