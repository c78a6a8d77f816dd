// What user code does with a network, shared by the compile-fail cases: after a mistake in the
// declaration, none of these lines may add an error of its own (the stand-in the macro emits
// keeps the real input and output types where it knows them).

#[allow(unused_macros)]
macro_rules! use_network {
    ($net:ident, $x:expr) => {
        use_network!($net, $x, 0.0f32)
    };
    ($net:ident, $x:expr, $y:expr) => {{
        let mut net = $net::new(&mut rand::rng());
        let x = $x;
        let p = net.forward(&x);
        println!("{} {}", p[0], $net::PARAMS);
        let h = net.fit(&[x.clone()], &[$y], dl::Fit {
            loss: dl::MeanSquaredError,
            optimizer: dl::Adam::default(),
            ..dl::Fit::default()
        })?;
        println!("{:?}", h.loss());
        let all = net.predict(&[x.clone()]);
        println!("{:?}", all[0]);
        let e = net.evaluate(&[x], &[$y], &dl::MeanSquaredError)?;
        println!("{} {}", e.loss, net.summary());
        net.save("net.safetensors")?;
        println!("{}", $net::PARAM_BYTES + $net::ACTIVATION_BYTES + $net::TRAINING_BYTES_PER_SAMPLE);
    }};
}

#[allow(unused_macros)]
macro_rules! use_embedded {
    ($net:ident, $scratch:ident, $x:expr) => {{
        let x = $x;
        let p = $net::EMBEDDED.forward(&x);
        let mut s = $scratch::ZERO;
        let q = $net::EMBEDDED.forward_in(&x, &mut s);
        println!("{} {} {}", p[0], q[0], $net::PARAMS + $net::PARAM_BYTES + $net::ACTIVATION_BYTES);
    }};
}
