//! [`ClientStore`] in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::{Error, Result};
use crate::oauth::{Client, ClientId};
use crate::store::ClientStore;

#[async_trait]
impl ClientStore for MemoryStore {
    async fn create_client(&self, client: Client) -> Result<()> {
        let mut state = self.state();
        if state.clients.iter().any(|kept| kept.id == client.id) {
            return Err(Error::Conflict("the client id is taken".into()));
        }
        state.clients.push(client);
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>> {
        Ok(self
            .state()
            .clients
            .iter()
            .find(|client| client.id == *id)
            .cloned())
    }

    async fn list_clients(&self) -> Result<Vec<Client>> {
        let mut clients = self.state().clients.clone();
        clients.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(clients)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool> {
        let mut state = self.state();
        let before = state.clients.len();
        state.clients.retain(|client| client.id != *id);
        state.grants.forget_client(id);
        Ok(state.clients.len() < before)
    }
}
