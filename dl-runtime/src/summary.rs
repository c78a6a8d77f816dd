//! Keras's `model.summary()` table.

use core::fmt;

/// One layer's row of the summary, computed by the macro at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSummary {
    /// Layer name (the field name, or Keras's automatic `dense`, `dense_1`, …).
    pub name: &'static str,
    /// Layer kind, as written (`Dense`).
    pub kind: &'static str,
    /// Output shape per sample (the batch dimension is shown as `None`).
    pub output_shape: &'static [usize],
    /// Trainable parameters.
    pub params: usize,
    /// Non-trainable values (a batch normalization's moving statistics); Keras counts them in
    /// the layer's `Param #` and in the total.
    pub non_trainable: usize,
    /// The tensors the layer reads, by the names of the layers that produce them (`input` for
    /// the network's input), in a network that branches; empty in a plain stack, where each
    /// layer reads the one above it.
    pub connected_to: &'static [&'static str],
}

/// A network's summary; `Display` prints Keras's table.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The network's name.
    pub name: &'static str,
    /// One row per layer.
    pub layers: &'static [LayerSummary],
    /// Bytes of the activations and recurrent state a single-sample forward of the network
    /// embedded with `#[weights]` needs (its `ACTIVATION_BYTES`).
    pub activation_bytes: usize,
    /// Bytes per sample of the buffers a training step keeps (its `TRAINING_BYTES_PER_SAMPLE`).
    pub training_bytes_per_sample: usize,
}

impl Summary {
    /// Total trainable parameters.
    pub fn params(&self) -> usize {
        self.layers.iter().map(|l| l.params).sum()
    }

    /// Total non-trainable values.
    pub fn non_trainable(&self) -> usize {
        self.layers.iter().map(|l| l.non_trainable).sum()
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: usize) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n:.2} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2} KB", n / 1024.0)
    } else {
        format!("{:.2} MB", n / (1024.0 * 1024.0))
    }
}

fn shape(dims: &[usize]) -> String {
    let mut s = String::from("(None");
    for d in dims {
        s.push_str(&format!(", {d}"));
    }
    s.push(')');
    s
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A network that branches gets Keras's functional table, with what each layer reads.
        let graph = self.layers.iter().any(|l| !l.connected_to.is_empty());
        let width = if graph { 90 } else { 65 };
        let rule = "_".repeat(width);
        writeln!(f, "Model: \"{}\"", self.name)?;
        writeln!(f, "{rule}")?;
        if graph {
            writeln!(
                f,
                " {:<28}{:<26}{:<11}Connected to",
                "Layer (type)", "Output Shape", "Param #"
            )?;
        } else {
            writeln!(f, " {:<28}{:<26}Param #", "Layer (type)", "Output Shape")?;
        }
        writeln!(f, "{}", "=".repeat(width))?;
        for (i, l) in self.layers.iter().enumerate() {
            let name = format!("{} ({})", l.name, l.kind);
            let params = grouped(l.params + l.non_trainable);
            if graph {
                let mut inputs = l.connected_to.iter();
                let first = inputs.next().copied().unwrap_or("");
                writeln!(
                    f,
                    " {:<28}{:<26}{:<11}{}",
                    name,
                    shape(l.output_shape),
                    params,
                    first
                )?;
                for more in inputs {
                    writeln!(f, " {:<65}{more}", "")?;
                }
            } else {
                writeln!(f, " {:<28}{:<26}{}", name, shape(l.output_shape), params)?;
            }
            if i + 1 < self.layers.len() {
                writeln!(f)?;
            }
        }
        writeln!(f, "{}", "=".repeat(width))?;
        let (trainable, fixed) = (self.params(), self.non_trainable());
        let total = trainable + fixed;
        writeln!(f, "Total params: {} ({})", grouped(total), bytes(total * 4))?;
        writeln!(
            f,
            "Trainable params: {} ({})",
            grouped(trainable),
            bytes(trainable * 4)
        )?;
        writeln!(
            f,
            "Non-trainable params: {} ({})",
            grouped(fixed),
            bytes(fixed * 4)
        )?;
        writeln!(
            f,
            "Single-sample activations: {} (embedded: {} with the parameters)",
            bytes(self.activation_bytes),
            bytes(self.activation_bytes + total * 4)
        )?;
        writeln!(
            f,
            "Training buffers per sample: {} (batch of 32: {})",
            bytes(self.training_bytes_per_sample),
            bytes(32 * self.training_bytes_per_sample)
        )?;
        write!(f, "{rule}")
    }
}

/// A message written at compile time, for the budget checks `network!` generates: a const
/// panic takes a `&str` only, so the figures are written into one here.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct ConstMessage<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> ConstMessage<N> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        ConstMessage { buf: [0; N], len: 0 }
    }

    /// Appends `s`.
    pub const fn str(mut self, s: &str) -> Self {
        let s = s.as_bytes();
        let mut i = 0;
        while i < s.len() {
            self.buf[self.len] = s[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// Appends `n` in decimal.
    pub const fn num(mut self, n: u64) -> Self {
        let mut digits = [0u8; 20];
        let (mut n, mut count) = (n, 0);
        loop {
            digits[count] = b'0' + (n % 10) as u8;
            count += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while count > 0 {
            count -= 1;
            self.buf[self.len] = digits[count];
            self.len += 1;
        }
        self
    }

    /// Appends `bytes` as `network!`'s budget errors write them: `B`, or `KiB` and `MiB` to a
    /// tenth.
    pub const fn bytes(self, bytes: u64) -> Self {
        let (unit, name) = match bytes {
            b if b >= 1 << 20 => (1u64 << 20, " MiB"),
            b if b >= 1 << 10 => (1 << 10, " KiB"),
            _ => return self.num(bytes).str(" B"),
        };
        let (mut whole, mut tenths) = (bytes / unit, ((bytes % unit) * 10 + unit / 2) / unit);
        if tenths == 10 {
            (whole, tenths) = (whole + 1, 0);
        }
        self.num(whole).str(".").num(tenths).str(name)
    }

    pub const fn as_str(&self) -> &str {
        match core::str::from_utf8(self.buf.split_at(self.len).0) {
            Ok(s) => s,
            Err(_) => panic!("a message is written from whole strings"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_keras_table() {
        const LAYERS: &[LayerSummary] = &[
            LayerSummary {
                name: "dense",
                kind: "Dense",
                output_shape: &[64],
                params: 704,
                non_trainable: 0,
                connected_to: &[],
            },
            LayerSummary {
                name: "out",
                kind: "Dense",
                output_shape: &[1],
                params: 65,
                non_trainable: 0,
                connected_to: &[],
            },
        ];
        let text = Summary {
            name: "Mlp",
            layers: LAYERS,
            activation_bytes: 4 * 65,
            training_bytes_per_sample: 4 * (2 * 64 + 2 + 1),
        }
        .to_string();
        assert!(
            text.contains(" dense (Dense)               (None, 64)                704\n"),
            "{text}"
        );
        assert!(text.contains("Total params: 769 (3.00 KB)"), "{text}");
        assert!(text.contains("Non-trainable params: 0 (0.00 B)"), "{text}");
        assert!(
            text.contains("Single-sample activations: 260.00 B (embedded: 3.26 KB with the parameters)"),
            "{text}"
        );
        assert!(
            text.contains("Training buffers per sample: 524.00 B (batch of 32: 16.38 KB)\n"),
            "{text}"
        );
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn const_message_writes_figures() {
        const M: ConstMessage<72> = ConstMessage::new()
            .str("a ")
            .num(0)
            .str(" ")
            .num(18_446_744_073_709_551_615)
            .str(" ")
            .bytes(1000)
            .str(" ")
            .bytes(94_316)
            .str(" ")
            .bytes(3 << 20)
            .str(" ")
            .bytes(2047);
        assert_eq!(
            M.as_str(),
            "a 0 18446744073709551615 1000 B 92.1 KiB 3.0 MiB 2.0 KiB"
        );
    }

    /// Keras's figures for `Conv2D(4, 3)` on 6×6×2, `BatchNormalization()`, `Flatten`,
    /// `Dense(3)`: the layer's `Param #` counts the moving statistics, the totals split them.
    #[test]
    fn counts_non_trainable_values_as_keras() {
        const LAYERS: &[LayerSummary] = &[
            LayerSummary {
                name: "conv2d",
                kind: "Conv2D",
                output_shape: &[4, 4, 4],
                params: 76,
                non_trainable: 0,
                connected_to: &[],
            },
            LayerSummary {
                name: "batch_normalization",
                kind: "BatchNormalization",
                output_shape: &[4, 4, 4],
                params: 8,
                non_trainable: 8,
                connected_to: &[],
            },
            LayerSummary {
                name: "flatten",
                kind: "Flatten",
                output_shape: &[64],
                params: 0,
                non_trainable: 0,
                connected_to: &[],
            },
            LayerSummary {
                name: "dense",
                kind: "Dense",
                output_shape: &[3],
                params: 195,
                non_trainable: 0,
                connected_to: &[],
            },
        ];
        let text = Summary {
            name: "Bn",
            layers: LAYERS,
            activation_bytes: 4 * (64 + 64 + 3),
            training_bytes_per_sample: 1000,
        }
        .to_string();
        assert!(
            text.contains(" batch_normalization (BatchNormalization)(None, 4, 4, 4)"),
            "{text}"
        );
        assert!(text.contains(", 4)           16\n"), "{text}");
        assert!(text.contains("Total params: 287 (1.12 KB)\n"), "{text}");
        assert!(text.contains("Trainable params: 279 (1.09 KB)\n"), "{text}");
        assert!(text.contains("Non-trainable params: 8 (32.00 B)\n"), "{text}");
    }
}
