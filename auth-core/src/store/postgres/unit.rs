//! [`UnitOfWork`]: [`Writes`] in one transaction.

use async_trait::async_trait;

use super::intents::issue_in;
use super::outbox::enqueue_in;
use super::users::{change_email_in, create_user_in};
use super::{PostgresStore, db_error};
use crate::error::{Error, Result};
use crate::store::{UnitOfWork, Writes};

#[async_trait]
impl UnitOfWork for PostgresStore {
    async fn apply(&self, writes: Writes) -> Result<()> {
        let mut client = self.client().await?;
        // Dropped without a commit (an error below), the transaction rolls back.
        let tx = client.transaction().await.map_err(db_error)?;
        if let Some(user) = &writes.create_user {
            create_user_in(&tx, user).await?;
        }
        if let Some(change) = &writes.change_email
            && !change_email_in(&tx, change).await?
        {
            return Err(Error::NotFound(
                "the account's address changed meanwhile".into(),
            ));
        }
        for intent in &writes.issue_intents {
            issue_in(&tx, intent).await?;
        }
        for message in &writes.enqueue {
            enqueue_in(&tx, message).await?;
        }
        tx.commit().await.map_err(db_error)
    }
}
