//! The one-time note that a network is being trained in a debug build: its generated code, and
//! the kernels generic over its sizes, are compiled in the user's crate, at the user's
//! opt-level, so `[profile.dev.package."*"]` alone does not make them fast.

use std::sync::Once;

use crate::model::Model;

/// What a debug build costs: the tutorial MLP and CNN trained 38-88 times slower than
/// `--release` (`benches/debug_speed/run.sh`; README.md, "Debug builds").
pub(crate) const NOTE: &str = "\
dl: training a network compiled without optimisation (a debug build), which trains about 40-90 times slower than \
--release. Run with `cargo run --release`, or make debug builds fast with these lines in your \
Cargo.toml:
    [profile.dev]
    opt-level = 3
Set DL_NO_DEBUG_NOTE=1 to silence this note.";

static ONCE: Once = Once::new();

/// Prints [`NOTE`] to stderr, once per process, if `M` was declared in an unoptimised crate.
pub(crate) fn note<M: Model>() {
    if M::UNOPTIMISED && std::env::var_os("DL_NO_DEBUG_NOTE").is_none() {
        ONCE.call_once(|| eprintln!("{NOTE}"));
    }
}
