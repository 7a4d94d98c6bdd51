//! `auth-server`: the reference authentication server.
//!
//! Subcommands: `serve` (the default), `migrate`, `healthcheck`, `keys generate` and
//! `user create`. Configuration
//! comes from the environment (see `auth-server serve --help`).

mod api;
mod app;
mod cli;
mod config;
mod healthcheck;
mod keys;
mod migrate;
mod serve;
mod user;

use std::process::ExitCode;

use clap::Parser as _;

use cli::{Cli, Command, KeysCommand, UserCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or_default() {
        Command::Serve => serve::main(),
        Command::Migrate(args) => migrate::main(&args),
        Command::Healthcheck(args) => healthcheck::main(&args),
        Command::Keys {
            command: KeysCommand::Generate(args),
        } => keys::generate(&args),
        Command::User {
            command: UserCommand::Create(args),
        } => user::create(&args),
    }
}
