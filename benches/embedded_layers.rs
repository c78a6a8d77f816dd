//! The layers of MLPerf Tiny's models one at a time through dl's embedded kernels
//! (`dl::embedded`), on made-up weights: where `benches/embedded.rs`'s whole-model times go, in
//! microseconds and multiply-adds per cycle (at the 2.6 GHz this machine reports; both FMA units
//! on 16-float vectors are 32). The fastest batch of ten calls of 200, which leaves out the
//! time other processes take on a shared machine.
//!
//!     RUSTFLAGS="-C target-cpu=native" taskset -c 0 cargo bench --bench embedded_layers

use std::hint::black_box;
use std::time::Instant;

use dl::embedded::Activation;
use dl::embedded::conv::{Window, conv2d, depthwise_conv2d};
use dl::embedded::dense::dense;

/// A square window with `s × s` strides and the given top and left padding.
fn window(h: usize, c: usize, k: usize, s: usize, pad: usize) -> Window {
    let o = h.div_ceil(s);
    Window {
        h,
        w: h,
        c,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pt: pad,
        pl: pad,
        oh: o,
        ow: o,
    }
}

/// Microseconds of one call of `f`, the fastest batch's mean; printed with `macs` per cycle.
fn time(name: &str, macs: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..200 {
        let t = Instant::now();
        for _ in 0..10 {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / 10.0);
    }
    let us = best * 1e6;
    println!("{name:>30} {us:8.2} µs {:6.1} GMAC/s", macs as f64 / (us * 1e3));
    us
}

/// 16 floats on a 64-byte cache line, as an embedded network's kernels and scratch start.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// `n` made-up values starting on a cache line (a `Vec<f32>` starts wherever the allocator puts
/// it: misaligned, the Dense layers streamed their weights at two thirds of the speed).
struct Values(Vec<Line>, usize);

impl std::ops::Deref for Values {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: `Line` is 16 `f32`s without padding (`repr(C)`, size 64), so the vector's
        // lines are `16 · len` contiguous initialised floats, of which `self.1` are read.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<f32>(), self.1) }
    }
}

impl std::ops::DerefMut for Values {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, through the unique borrow.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<f32>(), self.1) }
    }
}

fn values(n: usize) -> Values {
    let mut v = Values(vec![Line([0.0; 16]); n.div_ceil(16)], n);
    for (i, x) in v.iter_mut().enumerate() {
        *x = ((i * 37 % 101) as f32 / 50.0) - 1.0;
    }
    v
}

/// `Conv2D(F)` with ReLU on `w`: its time.
fn conv<const F: usize>(w: Window) -> f64 {
    let (x, k, b) = (values(w.h * w.w * w.c), values(w.kh * w.kw * w.c * F), values(F));
    let mut y = values(w.oh * w.ow * F);
    let macs = w.oh * w.ow * w.kh * w.kw * w.c * F;
    let name = format!("conv {}x{}x{} k{}x{} s{} F{F}", w.h, w.w, w.c, w.kh, w.kw, w.sh);
    time(&name, macs, || {
        conv2d::<F>(&w, black_box(&x), &k, &b, &mut y, Activation::Relu);
        black_box(&mut y);
    })
}

/// `DepthwiseConv2D` with ReLU on `w`, `C` channels: its time.
fn depthwise<const C: usize>(w: Window) -> f64 {
    let (x, k, b) = (values(w.h * w.w * C), values(w.kh * w.kw * C), values(C));
    let mut y = values(w.oh * w.ow * C);
    let macs = w.oh * w.ow * w.kh * w.kw * C;
    let name = format!("depthwise {}x{}x{C} k{} s{}", w.h, w.w, w.kh, w.sh);
    time(&name, macs, || {
        depthwise_conv2d::<C>(&w, 1, black_box(&x), &k, &b, &mut y, Activation::Relu);
        black_box(&mut y);
    })
}

/// `Dense(O)` with ReLU on `I` features: its time.
fn dense_layer<const I: usize, const O: usize>() -> f64 {
    let (x, k) = (values(I), values(I * O));
    let b: [f32; O] = values(O)[..].try_into().unwrap();
    let mut y = values(O);
    time(&format!("dense {I} -> {O}"), I * O, || {
        dense::<I, O>(black_box(&x), &k, &b, &mut y, Activation::Relu);
        black_box(&mut y);
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let ds_cnn = conv::<64>(Window {
        h: 49,
        w: 10,
        c: 1,
        kh: 10,
        kw: 4,
        sh: 2,
        sw: 2,
        pt: 4,
        pl: 1,
        oh: 25,
        ow: 5,
    }) + 4.0
        * (depthwise::<64>(Window {
            w: 5,
            ow: 5,
            ..window(25, 64, 3, 1, 1)
        }) + conv::<64>(Window {
            w: 5,
            ow: 5,
            ..window(25, 64, 1, 1, 0)
        }));
    println!("DS-CNN's convolutions: {ds_cnn:.1} µs\n");

    let mobilenet = conv::<8>(window(96, 3, 3, 2, 0))
        + depthwise::<8>(window(48, 8, 3, 1, 1))
        + conv::<16>(window(48, 8, 1, 1, 0))
        + depthwise::<16>(window(48, 16, 3, 2, 0))
        + conv::<32>(window(24, 16, 1, 1, 0))
        + depthwise::<32>(window(24, 32, 3, 1, 1))
        + conv::<32>(window(24, 32, 1, 1, 0))
        + depthwise::<32>(window(24, 32, 3, 2, 0))
        + conv::<64>(window(12, 32, 1, 1, 0))
        + depthwise::<64>(window(12, 64, 3, 1, 1))
        + conv::<64>(window(12, 64, 1, 1, 0))
        + depthwise::<64>(window(12, 64, 3, 2, 0))
        + conv::<128>(window(6, 64, 1, 1, 0))
        + 5.0 * (depthwise::<128>(window(6, 128, 3, 1, 1)) + conv::<128>(window(6, 128, 1, 1, 0)))
        + depthwise::<128>(window(6, 128, 3, 2, 0))
        + conv::<256>(window(3, 128, 1, 1, 0))
        + depthwise::<256>(window(3, 256, 3, 1, 1))
        + conv::<256>(window(3, 256, 1, 1, 0));
    println!("MobileNetV1's convolutions: {mobilenet:.1} µs\n");

    let resnet = conv::<16>(window(32, 3, 3, 1, 1))
        + 2.0 * conv::<16>(window(32, 16, 3, 1, 1))
        + conv::<32>(window(32, 16, 3, 2, 0))
        + conv::<32>(window(16, 32, 3, 1, 1))
        + conv::<32>(window(32, 16, 1, 2, 0))
        + conv::<64>(window(16, 32, 3, 2, 0))
        + conv::<64>(window(8, 64, 3, 1, 1))
        + conv::<64>(window(16, 32, 1, 2, 0));
    println!("ResNet-8's convolutions: {resnet:.1} µs\n");

    let autoencoder = dense_layer::<640, 128>()
        + 6.0 * dense_layer::<128, 128>()
        + dense_layer::<128, 8>()
        + dense_layer::<8, 128>()
        + dense_layer::<128, 640>();
    println!("The autoencoder's Dense layers: {autoencoder:.1} µs");
}
