//! `auth-server`: the reference authentication server; see the library for the subcommands.

use std::process::ExitCode;

fn main() -> ExitCode {
    auth_server::main()
}
