//! A PostgreSQL schema of a bench's own on `AUTH_TEST_DATABASE_URL`, migrated, dropped when
//! the bench is done with it.

use auth_core::store::postgres::{PostgresConfig, PostgresStore};
use tokio::runtime::Runtime;

/// A scratch schema and a store working in it.
pub(crate) struct Scratch {
    admin: tokio_postgres::Client,
    name: String,
    /// The store, its connections in the schema, migrated.
    pub(crate) store: PostgresStore,
}

impl Scratch {
    /// A fresh schema named after `bench` on the database at `url`.
    pub(crate) fn create(rt: &Runtime, url: &str, bench: &str) -> Self {
        let name = format!("auth_bench_{bench}_{}", std::process::id());
        let admin = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
                ))
                .await
                .unwrap();
            client
        });
        let separator = if url.contains('?') { '&' } else { '?' };
        let config =
            PostgresConfig::from_url(format!("{url}{separator}options=-c%20search_path%3D{name}"));
        let store = PostgresStore::connect(&config).unwrap();
        rt.block_on(store.migrate()).unwrap();
        Self { admin, name, store }
    }

    /// Drops the schema.
    pub(crate) fn drop_in(self, rt: &Runtime) {
        rt.block_on(
            self.admin
                .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name)),
        )
        .unwrap();
    }
}
