//! Pooling on one sample: `MaxPooling2D`, `AveragePooling2D`, their global forms, and the 1-D
//! global poolings over time.

use crate::conv::Window;

/// Keras's `MaxPooling2D`: padding cells never win.
pub fn max_pool2d(win: &Window, x: &[f32], y: &mut [f32]) {
    let c = win.c;
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            let out = &mut y[(oy * win.ow + ox) * c..][..c];
            out.fill(f32::NEG_INFINITY);
            for (_, _, iy, ix) in win.cells(oy, ox) {
                let pixel = &x[(iy * win.w + ix) * c..][..c];
                for (o, &v) in out.iter_mut().zip(pixel) {
                    *o = o.max(v);
                }
            }
        }
    }
}

/// Keras's `AveragePooling2D`: a window at the edge averages its cells inside the image only.
pub fn average_pool2d(win: &Window, x: &[f32], y: &mut [f32]) {
    let c = win.c;
    for oy in 0..win.oh {
        for ox in 0..win.ow {
            let out = &mut y[(oy * win.ow + ox) * c..][..c];
            out.fill(0.0);
            let mut count = 0usize;
            for (_, _, iy, ix) in win.cells(oy, ox) {
                count += 1;
                let pixel = &x[(iy * win.w + ix) * c..][..c];
                for (o, &v) in out.iter_mut().zip(pixel) {
                    *o += v;
                }
            }
            let inv = 1.0 / count.max(1) as f32;
            out.iter_mut().for_each(|o| *o *= inv);
        }
    }
}

/// Maximum over all rows of `x` (`rows × y.len()`): `GlobalMaxPooling2D` over the pixels of an
/// image, `GlobalMaxPooling1D` over the steps of a sequence.
pub fn global_max(x: &[f32], y: &mut [f32]) {
    y.fill(f32::NEG_INFINITY);
    for row in x.chunks_exact(y.len()) {
        for (o, &v) in y.iter_mut().zip(row) {
            *o = o.max(v);
        }
    }
}

/// Mean over all rows of `x` (`rows × y.len()`): `GlobalAveragePooling2D` and `…1D`.
pub fn global_average(x: &[f32], y: &mut [f32]) {
    y.fill(0.0);
    let rows = x.len() / y.len();
    for row in x.chunks_exact(y.len()) {
        for (o, &v) in y.iter_mut().zip(row) {
            *o += v;
        }
    }
    let inv = 1.0 / rows as f32;
    y.iter_mut().for_each(|o| *o *= inv);
}

/// `GlobalAveragePooling1D` under a padding mask: the mean over the steps whose id is not 0
/// (zeros when every step is padding, as Keras gives).
pub fn global_average_masked(x: &[f32], ids: &[u32], y: &mut [f32]) {
    y.fill(0.0);
    let mut count = 0usize;
    for (row, &id) in x.chunks_exact(y.len()).zip(ids) {
        if id != 0 {
            count += 1;
            for (o, &v) in y.iter_mut().zip(row) {
                *o += v;
            }
        }
    }
    if count > 0 {
        let inv = 1.0 / count as f32;
        y.iter_mut().for_each(|o| *o *= inv);
    }
}
