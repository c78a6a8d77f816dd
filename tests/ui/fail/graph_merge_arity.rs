// A merge needs two or more tensors (Subtract exactly two); other layers read one.
dl::network! {
    struct Net {
        input: [5],
        a: Dense(4, relu),
        b: Dense(4, relu)(a),
        c: Add(b),
        d: Subtract(a, b, c),
        Dense(1)(c, d),
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
