//! Thin command handlers: parse → call the engine → render. Each returns the process exit code.

pub mod cluster_backup;
pub mod cluster_day2;
pub mod cluster_k3s;
pub mod cluster_node_add;
pub mod common;
pub mod component;
pub mod config;
pub mod host;
pub mod openbao;
pub mod prompt;
pub mod secret;
pub mod stack;
pub mod stack_test;
pub mod storage;
pub mod validate;

use crate::cli::{Cli, Command};
use clap::CommandFactory;

pub async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let g = cli.global;
    match cli.command {
        Command::Stack(c) => stack::run(&g, c).await,
        Command::Component(c) => component::run(&g, c).await,
        Command::Config(c) => config::run(&g, c).await,
        Command::Host(c) => host::run(&g, c).await,
        Command::Secret(c) => secret::run(&g, c).await,
        Command::Openbao(c) => openbao::run(&g, c).await,
        Command::Storage(c) => storage::run(&g, c).await,
        Command::Cluster(c) => cluster_day2::run(&g, c).await,
        Command::Completion { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "foundry", &mut std::io::stdout());
            Ok(0)
        }
    }
}
