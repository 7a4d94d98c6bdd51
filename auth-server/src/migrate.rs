//! `auth-server migrate`: apply (or list) the embedded PostgreSQL migrations and exit.

use std::process::ExitCode;

use auth_core::store::postgres::{MigrationState, PostgresStore};

use crate::cli::MigrateArgs;

pub(crate) fn main(args: &MigrateArgs) -> ExitCode {
    match crate::cli::block_on("migrate", run(args)) {
        None => ExitCode::FAILURE,
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(error)) => {
            eprintln!("migrate: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &MigrateArgs) -> auth_core::Result<()> {
    let store = PostgresStore::connect(&args.database.config()?)?;
    if args.status {
        for migration in store.migration_status().await? {
            let state = match migration.state {
                MigrationState::Pending => "pending",
                MigrationState::Applied { .. } => "applied",
                MigrationState::Changed { .. } => "applied, but its file changed since",
                MigrationState::Unknown { .. } => "applied by a newer release",
            };
            println!("{:04} {:<24} {state}", migration.version, migration.name);
        }
        return Ok(());
    }
    let report = store
        .migrate_within(std::time::Duration::from_secs(args.lock_timeout))
        .await?;
    println!(
        "applied {} migration(s); schema at version {}",
        report.applied.len(),
        report.current
    );
    if report.emails_normalized > 0 || !report.email_collisions.is_empty() {
        println!(
            "email addresses: {} moved to their normalised form, {} left as stored (table auth_email_collisions)",
            report.emails_normalized,
            report.email_collisions.len()
        );
    }
    for collision in &report.email_collisions {
        match (&collision.normalized, &collision.taken_by) {
            (Some(normalized), Some(taken_by)) => println!(
                "  account {}: {:?} would become {normalized:?}, which account {taken_by} holds",
                collision.user_id, collision.email
            ),
            _ => println!(
                "  account {}: {:?} is not an email address",
                collision.user_id, collision.email
            ),
        }
    }
    Ok(())
}
