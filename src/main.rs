use clap::Parser;
use foundry::{cli::Cli, error};

fn main() {
    let cli = Cli::parse();
    foundry::run::logging::init(cli.global.verbose, cli.global.quiet);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(foundry::commands::dispatch(cli));
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            let class = error::class_of(&err);
            // {:#} prints the context chain on one line; scrub in case user data slipped in.
            eprintln!("error: {}", foundry::redact::scrub(&format!("{err:#}")));
            std::process::exit(class.code());
        }
    }
}
