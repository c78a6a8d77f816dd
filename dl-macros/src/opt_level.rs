//! Whether the crate being compiled is optimised, for the one-time note a trainer prints when a
//! network is trained unoptimised. A network's code and the kernels generic over its sizes are
//! compiled in the crate that declares it, at that crate's opt-level, so what matters is this
//! crate's level, which no `cfg` tells (`debug_assertions` is set independently of it).
//!
//! A proc macro runs inside rustc, so the process's arguments are rustc's and hold the
//! `-C opt-level` cargo passes. Elsewhere (rust-analyzer's proc-macro server) they do not; the
//! generated code then falls back to `cfg!(debug_assertions)`.

use proc_macro2::TokenStream;
use quote::quote;

/// Code for a `bool`: true if this crate is compiled at opt-level 0.
pub(crate) fn unoptimised(krate: &TokenStream) -> TokenStream {
    match from_args(std::env::args()) {
        Some(level) => {
            let unoptimised = level == "0";
            quote!(#unoptimised)
        }
        None => quote!(#krate::__private::core::cfg!(debug_assertions)),
    }
}

/// The opt-level in rustc arguments (its default, `0`, if none is given), or `None` if they
/// are not rustc's.
fn from_args(args: impl IntoIterator<Item = String>) -> Option<String> {
    let mut args = args.into_iter();
    let program = args.next()?;
    let rustc = std::path::Path::new(&program)
        .file_stem()
        .is_some_and(|s| s.to_string_lossy().starts_with("rustc"));
    if !rustc {
        return None;
    }
    let mut level = "0".to_string();
    let mut codegen_next = false;
    for arg in args {
        let option = if codegen_next {
            codegen_next = false;
            Some(arg.as_str())
        } else if arg == "-C" || arg == "--codegen" {
            codegen_next = true;
            None
        } else if arg == "-O" {
            level = "2".to_string();
            None
        } else {
            arg.strip_prefix("-C").or_else(|| arg.strip_prefix("--codegen="))
        };
        if let Some(value) = option.and_then(|o| o.strip_prefix("opt-level=")) {
            level = value.to_string();
        }
    }
    Some(level)
}

#[cfg(test)]
mod tests {
    use super::from_args;

    fn level(args: &[&str]) -> Option<String> {
        from_args(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn reads_the_last_opt_level_rustc_is_given() {
        assert_eq!(
            level(&["/x/bin/rustc", "--crate-name", "a"]).as_deref(),
            Some("0")
        );
        assert_eq!(level(&["rustc", "-C", "opt-level=3"]).as_deref(), Some("3"));
        assert_eq!(level(&["rustc", "-Copt-level=1"]).as_deref(), Some("1"));
        assert_eq!(level(&["rustc", "--codegen=opt-level=s"]).as_deref(), Some("s"));
        assert_eq!(level(&["rustc", "-O", "-C", "opt-level=0"]).as_deref(), Some("0"));
        assert_eq!(level(&["rustc.exe", "-O"]).as_deref(), Some("2"));
        assert_eq!(level(&["rust-analyzer-proc-macro-srv"]), None);
        assert_eq!(level(&[]), None);
    }
}
