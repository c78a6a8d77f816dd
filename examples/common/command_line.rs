//! The command line of the examples that are compared with Keras: `NAME [seed] [FLAG DIR]`,
//! where `FLAG DIR` asks the example to write its data to `DIR` for the script that trains Keras.

/// The seed (default 1) and the directory after `flag`, if given.
pub fn seed_and_export(flag: &str) -> Result<(u64, Option<String>), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = match args.first() {
        Some(s) if !s.starts_with("--") => s.parse().map_err(|_| format!("bad seed `{s}`"))?,
        _ => 1,
    };
    let export = args
        .iter()
        .position(|a| a == flag)
        .map(|i| {
            args.get(i + 1)
                .cloned()
                .ok_or(format!("{flag} needs a directory"))
        })
        .transpose()?;
    Ok((seed, export))
}
