//! tracing setup: warnings by default, -q only errors, -v info (each remote command), -vv debug. Secrets are scrubbed at the
//! source (commands are scrubbed before they are traced), never here.

pub fn init(verbose: u8, quiet: bool) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOUNDRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("foundry={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a CI log or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
