use clap::Parser;
use foundry::cli::{Cli, OutputFormat};
use foundry::error;

fn main() {
    let cli = Cli::parse();
    foundry::run::logging::init(cli.global.verbose, cli.global.quiet);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let output = cli.global.output;
    let result = rt.block_on(foundry::commands::dispatch(cli));
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            let class = error::class_of(&err);
            // {:#} prints the context chain on one line; scrub in case user data slipped in.
            let shown = foundry::redact::scrub(&format!("{err:#}"));
            // Remote stderr and API messages end up in errors: no escape sequence reaches the
            // terminal (JSON escapes them anyway).
            eprintln!("error: {}", foundry::output::terminal_safe(&shown));
            // A program asked for JSON/YAML: it gets the failure on stdout in that form too.
            // `status` commands render their whole report before they exit 7: stdout already
            // holds the document.
            if class != error::ExitClass::Unhealthy {
                let obj = error::error_object(class, &shown);
                match output {
                    OutputFormat::Json => {
                        println!("{}", serde_json::to_string_pretty(&obj).unwrap_or_default())
                    }
                    OutputFormat::Yaml => {
                        print!("{}", serde_yaml::to_string(&obj).unwrap_or_default())
                    }
                    OutputFormat::Table => {}
                }
            }
            std::process::exit(class.code());
        }
    }
}
