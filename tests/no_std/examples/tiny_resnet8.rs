//! A program with neither `std` nor an allocator that embeds one MLPerf Tiny model, `resnet8`,
//! and runs it once: its size is what the model costs a binary (`benches/peers/embedded_tiny.sh`
//! measures it). Build with `RUSTFLAGS="-C panic=abort"` and `--features bare --release`.
#![no_std]
#![no_main]

dl_no_std_check::bare_program!(|| {
    let mut scratch = dl_no_std_check::ResNet8EmbeddedScratch::ZERO;
    let y = dl_no_std_check::RESNET8.forward_in(&[0.5; 3072], &mut scratch);
    i32::from(!y.iter().all(|v| v.is_finite()))
});
