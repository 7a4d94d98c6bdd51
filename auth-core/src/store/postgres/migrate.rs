//! The embedded migrations and their runner (see `migrations/README.md`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use deadpool_postgres::tokio_postgres;
use deadpool_postgres::tokio_postgres::error::SqlState;
use deadpool_postgres::{ClientWrapper, Object};
use sha2::{Digest, Sha256};

use uuid::Uuid;

use super::{PostgresStore, corrupt, db_error, get, query_one};
use crate::email::normalize_email;
use crate::error::{Error, Result};
use crate::id::UserId;

/// One embedded migration.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in version order. A released file is never edited; a change is a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "totp_replay_guard",
        sql: include_str!("migrations/0002_totp_replay_guard.sql"),
    },
    Migration {
        version: 3,
        name: "limits_and_epochs",
        sql: include_str!("migrations/0003_limits_and_epochs.sql"),
    },
    Migration {
        version: 4,
        name: "email_normalization",
        sql: include_str!("migrations/0004_email_normalization.sql"),
    },
    Migration {
        version: 5,
        name: "refresh_grace_retries",
        sql: include_str!("migrations/0005_refresh_grace_retries.sql"),
    },
    Migration {
        version: 6,
        name: "intents",
        sql: include_str!("migrations/0006_intents.sql"),
    },
    Migration {
        version: 7,
        name: "outbox",
        sql: include_str!("migrations/0007_outbox.sql"),
    },
    Migration {
        version: 8,
        name: "email_verification",
        sql: include_str!("migrations/0008_email_verification.sql"),
    },
    Migration {
        version: 9,
        name: "locale_and_undo_targets",
        sql: include_str!("migrations/0009_locale_and_undo_targets.sql"),
    },
    Migration {
        version: 10,
        name: "passkeys",
        sql: include_str!("migrations/0010_passkeys.sql"),
    },
    Migration {
        version: 11,
        name: "session_devices",
        sql: include_str!("migrations/0011_session_devices.sql"),
    },
    Migration {
        version: 12,
        name: "roles",
        sql: include_str!("migrations/0012_roles.sql"),
    },
    Migration {
        version: 13,
        name: "oauth_clients",
        sql: include_str!("migrations/0013_oauth_clients.sql"),
    },
    Migration {
        version: 14,
        name: "oauth_grants",
        sql: include_str!("migrations/0014_oauth_grants.sql"),
    },
    Migration {
        version: 15,
        name: "oauth_service_clients",
        sql: include_str!("migrations/0015_oauth_service_clients.sql"),
    },
    Migration {
        version: 16,
        name: "oauth_logout_and_pushed_requests",
        sql: include_str!("migrations/0016_oauth_logout_and_pushed_requests.sql"),
    },
    Migration {
        version: 17,
        name: "oauth_private_key_jwt",
        sql: include_str!("migrations/0017_oauth_private_key_jwt.sql"),
    },
];

/// The backfill that moves stored addresses to [`normalize_email`]'s form, by its name in
/// `auth_data_migrations`.
const EMAIL_BACKFILL: &str = "email_normalization_1";

/// Accounts the email backfill reads per round trip.
const EMAIL_BACKFILL_BATCH: i64 = 500;

/// First key of the advisory lock migrations hold; the second is a hash of the schema, so
/// schemas migrate independently.
pub(super) const LOCK_CLASS: i32 = 0x6175_7468; // "auth"

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS auth_schema_migrations (
    version    bigint      PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// What [`PostgresStore::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The versions this call applied, in order; empty if the schema was up to date.
    pub applied: Vec<u32>,
    /// The highest version applied to the schema now.
    pub current: u32,
    /// Stored addresses this call moved to the form [`normalize_email`] gives them.
    pub emails_normalized: usize,
    /// Addresses this call could not move, left as stored (also in the table
    /// `auth_email_collisions`).
    pub email_collisions: Vec<EmailCollision>,
}

/// A stored address that could not take its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCollision {
    /// The account.
    pub user_id: UserId,
    /// Its address as stored.
    pub email: String,
    /// The form it should take; `None` if it is no address at all.
    pub normalized: Option<String>,
    /// The account that already holds that form.
    pub taken_by: Option<UserId>,
}

/// One migration's state, from [`PostgresStore::migration_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Its version.
    pub version: u32,
    /// Its name.
    pub name: String,
    /// Whether it is applied.
    pub state: MigrationState,
}

/// Whether a migration is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    /// Embedded here, not applied yet: [`PostgresStore::migrate`] applies it.
    Pending,
    /// Applied at `at`, as embedded here.
    Applied {
        /// When.
        at: SystemTime,
    },
    /// Applied at `at`, but its embedded file has changed since: `migrate` refuses to run.
    Changed {
        /// When.
        at: SystemTime,
    },
    /// Applied at `at` by a newer release than this code, which does not know it.
    Unknown {
        /// When.
        at: SystemTime,
    },
}

/// How long [`PostgresStore::migrate`] waits for another instance's migration.
pub const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Who holds the migration lock of this schema, as `pg_stat_activity` describes them; what
/// could be found when the lookup itself fails.
async fn lock_holder(client: &ClientWrapper) -> String {
    // The lock's two keys as pg_locks shows them: unsigned 32-bit object ids.
    let holder = client
        .query_opt(
            "SELECT a.pid, coalesce(a.application_name, '') AS application, \
                    coalesce(host(a.client_addr), \
                             CASE WHEN a.backend_start IS NULL THEN 'an address not shown to us' \
                                  ELSE 'a local socket' END) AS client, \
                    coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', \
                                     'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'a time not shown to us') AS since, \
                    coalesce(a.state, 'state not shown to us') AS state \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid::bigint = $1::bigint \
               AND l.objid::bigint = (hashtext(coalesce(current_schema(), ''))::bigint & 4294967295) \
             LIMIT 1",
            &[&i64::from(LOCK_CLASS)],
        )
        .await;
    match holder {
        Ok(Some(row)) => {
            let pid: i32 = row.get("pid");
            let application: String = row.get("application");
            let client: String = row.get("client");
            let since: String = row.get("since");
            let state: String = row.get("state");
            format!(
                "pid {pid} (application {application:?}, from {client}, connected since {since}, {state}); \
                 if it is stuck, SELECT pg_terminate_backend({pid})"
            )
        }
        Ok(None) => "its holder has just released it; try again".to_owned(),
        Err(error) => format!("its holder could not be looked up: {}", db_error(error)),
    }
}

/// A migration recorded in the version table.
struct Applied {
    name: String,
    checksum: String,
    at: SystemTime,
}

impl PostgresStore {
    /// Applies the pending migrations in order, each in its own transaction, and records them
    /// in `auth_schema_migrations`. Instances that start together take turns on an advisory
    /// lock: one applies, the others wait and find nothing left to do. Waits at most
    /// [`MIGRATION_LOCK_TIMEOUT`] for the lock; see [`migrate_within`](Self::migrate_within).
    pub async fn migrate(&self) -> Result<MigrationReport> {
        self.migrate_within(MIGRATION_LOCK_TIMEOUT).await
    }

    /// [`migrate`](Self::migrate), waiting at most `lock_timeout` for another instance's
    /// migration to release the lock: past it, [`Error::Unavailable`] names the process that
    /// holds it (its pid, application name, client address and since when), for
    /// `pg_terminate_backend` if it is stuck. [`Error::Config`] if a migration applied earlier
    /// has changed since (its checksum differs); nothing runs then.
    pub async fn migrate_within(&self, lock_timeout: Duration) -> Result<MigrationReport> {
        // A connection of its own, closed when done: the session's advisory lock can never
        // return to the pool, even if this future is dropped midway.
        let mut client = Object::take(self.client().await?);
        // Migrations may outlast the statement timeout of queries; only the wait for the
        // lock is bounded.
        let wait = format!(
            "SET statement_timeout = 0; SET lock_timeout = {}",
            lock_timeout.as_millis().clamp(1, i32::MAX as u128)
        );
        client.batch_execute(&wait).await.map_err(db_error)?;
        let locked = client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))",
                &[&LOCK_CLASS],
            )
            .await;
        if let Err(error) = locked {
            if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                return Err(Error::Unavailable(format!(
                    "another migration has held the lock for over {lock_timeout:?}: {}",
                    lock_holder(&client).await
                )));
            }
            return Err(db_error(error));
        }
        client
            .batch_execute("SET lock_timeout = 0")
            .await
            .map_err(db_error)?;
        let report = match apply_pending(&mut client).await {
            Ok(mut report) => backfill_emails(&client, &mut report).await.map(|()| report),
            Err(error) => Err(error),
        };
        // Closing the connection releases the lock too; unlocking first lets a waiting
        // instance go on at once.
        let _unlocked = client.execute("SELECT pg_advisory_unlock_all()", &[]).await;
        report
    }

    /// Every migration, embedded or recorded, in version order, with its state.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let client = self.client().await?;
        let exists = query_one(
            &client,
            "SELECT to_regclass('auth_schema_migrations') IS NOT NULL AS present",
            &[],
        )
        .await?;
        let applied = if get(&exists, "present")? {
            applied_migrations(&client).await?
        } else {
            BTreeMap::new()
        };
        Ok(status(&applied))
    }
}

/// Under the lock: checks the recorded checksums, then applies what is pending.
async fn apply_pending(client: &mut ClientWrapper) -> Result<MigrationReport> {
    client
        .batch_execute(CREATE_VERSION_TABLE)
        .await
        .map_err(db_error)?;
    let recorded = applied_migrations(client).await?;
    if let Some(changed) = status(&recorded)
        .iter()
        .find(|m| matches!(m.state, MigrationState::Changed { .. }))
    {
        return Err(Error::Config(format!(
            "migration {} ({}) was changed after it was applied: its checksum differs from the \
             one recorded in auth_schema_migrations; restore the released file and add a new \
             migration instead",
            changed.version, changed.name
        )));
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        if recorded.contains_key(&migration.version) {
            continue;
        }
        let failed = |e| {
            Error::Unavailable(format!(
                "migration {} ({}) failed: {}",
                migration.version,
                migration.name,
                db_error(e)
            ))
        };
        let tx = client.transaction().await.map_err(db_error)?;
        tx.batch_execute(migration.sql).await.map_err(failed)?;
        tx.execute(
            "INSERT INTO auth_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[
                &i64::from(migration.version),
                &migration.name,
                &checksum(migration.sql),
            ],
        )
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        applied.push(migration.version);
    }
    let current = recorded
        .keys()
        .copied()
        .chain(applied.iter().copied())
        .max()
        .unwrap_or(0);
    Ok(MigrationReport {
        applied,
        current,
        emails_normalized: 0,
        email_collisions: Vec::new(),
    })
}

/// Moves every stored address to the form [`normalize_email`] gives it, once per schema (a
/// row in `auth_data_migrations` marks it done), in batches by id. An address whose form
/// another account holds, or that is no address, stays as it is and is recorded in
/// `auth_email_collisions` and the report: the backfill never fails on data.
async fn backfill_emails(
    client: &tokio_postgres::Client,
    report: &mut MigrationReport,
) -> Result<()> {
    let done = client
        .query_opt(
            "SELECT 1 FROM auth_data_migrations WHERE name = $1",
            &[&EMAIL_BACKFILL],
        )
        .await
        .map_err(db_error)?;
    if done.is_some() {
        return Ok(());
    }
    let mut after: Option<Uuid> = None;
    loop {
        let rows = client
            .query(
                "SELECT id, email FROM auth_users WHERE ($1::uuid IS NULL OR id > $1) \
                 ORDER BY id LIMIT $2",
                &[&after, &EMAIL_BACKFILL_BATCH],
            )
            .await
            .map_err(db_error)?;
        let Some(last) = rows.last() else { break };
        after = Some(get(last, "id")?);
        for row in &rows {
            let id: Uuid = get(row, "id")?;
            let email: String = get(row, "email")?;
            let normalized = normalize_email(&email).ok();
            if normalized.as_deref() == Some(email.as_str()) {
                continue;
            }
            let moved = match &normalized {
                Some(normalized) => client
                    .execute(
                        "UPDATE auth_users SET email = $2 WHERE id = $1 AND NOT EXISTS \
                           (SELECT 1 FROM auth_users WHERE lower(email) = lower($2) AND id <> $1)",
                        &[&id, normalized],
                    )
                    .await
                    .map_err(db_error)?,
                None => 0,
            };
            if moved == 1 {
                report.emails_normalized += 1;
                continue;
            }
            let taken_by = match &normalized {
                Some(normalized) => client
                    .query_opt(
                        "SELECT id FROM auth_users WHERE lower(email) = lower($1) AND id <> $2",
                        &[normalized, &id],
                    )
                    .await
                    .map_err(db_error)?
                    .map(|row| get::<Uuid>(&row, "id"))
                    .transpose()?,
                None => None,
            };
            client
                .execute(
                    "INSERT INTO auth_email_collisions (user_id, email, normalized, taken_by) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                     email = EXCLUDED.email, normalized = EXCLUDED.normalized, \
                     taken_by = EXCLUDED.taken_by, found_at = now()",
                    &[&id, &email, &normalized, &taken_by],
                )
                .await
                .map_err(db_error)?;
            report.email_collisions.push(EmailCollision {
                user_id: UserId::from(id),
                email,
                normalized,
                taken_by: taken_by.map(UserId::from),
            });
        }
    }
    client
        .execute(
            "INSERT INTO auth_data_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&EMAIL_BACKFILL],
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

async fn applied_migrations(client: &tokio_postgres::Client) -> Result<BTreeMap<u32, Applied>> {
    let rows = client
        .query(
            "SELECT version, name, checksum, applied_at FROM auth_schema_migrations",
            &[],
        )
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let version = u32::try_from(get::<i64>(row, "version")?)
                .map_err(|_| corrupt("migration version"))?;
            let applied = Applied {
                name: get(row, "name")?,
                checksum: get(row, "checksum")?,
                at: get(row, "applied_at")?,
            };
            Ok((version, applied))
        })
        .collect()
}

/// The state of every embedded or recorded migration.
fn status(recorded: &BTreeMap<u32, Applied>) -> Vec<MigrationStatus> {
    let mut statuses: Vec<MigrationStatus> = MIGRATIONS
        .iter()
        .map(|migration| {
            let state = match recorded.get(&migration.version) {
                None => MigrationState::Pending,
                Some(applied) if applied.checksum == checksum(migration.sql) => {
                    MigrationState::Applied { at: applied.at }
                }
                Some(applied) => MigrationState::Changed { at: applied.at },
            };
            MigrationStatus {
                version: migration.version,
                name: migration.name.to_owned(),
                state,
            }
        })
        .collect();
    statuses.extend(
        recorded
            .iter()
            .filter(|(version, _)| !MIGRATIONS.iter().any(|m| m.version == **version))
            .map(|(version, applied)| MigrationStatus {
                version: *version,
                name: applied.name.clone(),
                state: MigrationState::Unknown { at: applied.at },
            }),
    );
    statuses.sort_by_key(|status| status.version);
    statuses
}

/// Lower-case hex SHA-256 of a migration's text.
fn checksum(sql: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(sql.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn embedded_migrations_are_numbered_in_order_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
        }
    }
}
