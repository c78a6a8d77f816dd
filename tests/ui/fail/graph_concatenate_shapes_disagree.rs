// Concatenate joins channels: the other dimensions must agree.
dl::network! {
    struct Net {
        input: [6, 6, 1],
        big: Conv2D(2, (3, 3)),
        small: Conv2D(3, (3, 3))(big),
        Concatenate(big, small),
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
