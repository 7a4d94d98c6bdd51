//! What this process read recently about the clients: every token request, introspection and
//! revocation names its client, and a service asks many times a second. Each answer is reused
//! for [`AuthenticatorConfig::client_cache_ttl`](super::AuthenticatorConfig::client_cache_ttl):
//! - a client read from the store: a deletion made through this process is seen at once, one
//!   made elsewhere (another instance, the command line) within that time. A client that is
//!   not found is never remembered, so one registered elsewhere can be used at once;
//! - that the throttle let a client's authentication from an address through (both of its
//!   counters, the address's and the client's at the address, asked no wait). A client's
//!   failure counted through this process forgets every client let through from that address
//!   at once; failures counted elsewhere (another instance, or a password failure from the
//!   address) are seen within that time. While the throttle's store cannot answer, a client
//!   let through within that time still authenticates.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::clock::SharedClock;
use crate::error::Result;
use crate::oauth::{Client, ClientId};
use crate::store::ClientStore;

/// Beyond this many clients, or this many addresses clients were let through from, the cache
/// starts afresh, bounding its memory.
const MAX_CACHED_CLIENTS: usize = 10_000;
const MAX_CACHED_ADDRESSES: usize = 100_000;

pub(super) struct ClientCache {
    store: Arc<dyn ClientStore>,
    clock: SharedClock,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Moves on with each deletion: a read begun before one is not remembered after it.
    generation: u64,
    entries: HashMap<ClientId, (SystemTime, Arc<Client>)>,
    /// By client address, the client ids (as the throttle counts them) let through from it,
    /// and when the throttle was asked.
    let_through: HashMap<Option<IpAddr>, HashMap<String, SystemTime>>,
    /// Moves on with each failure: a check begun before one is not remembered after it.
    let_through_generation: u64,
}

/// A throttle check to ask, and what to remember if it lets the client through.
pub(super) struct Ticket {
    asked_at: SystemTime,
    generation: u64,
}

impl ClientCache {
    /// Clients of `store`, each reused for `ttl` after it was read (zero: read every time).
    pub(super) fn new(store: Arc<dyn ClientStore>, clock: SharedClock, ttl: Duration) -> Self {
        Self {
            store,
            clock,
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// The client with this id, if one is registered.
    pub(super) async fn find(&self, id: &ClientId) -> Result<Option<Client>> {
        let now = self.clock.now();
        let generation = {
            let state = self.lock();
            if let Some((read_at, client)) = state.entries.get(id)
                && now.duration_since(*read_at).is_ok_and(|age| age < self.ttl)
            {
                return Ok(Some(Client::clone(client)));
            }
            state.generation
        };
        let found = self.store.find_client(id).await?;
        let mut state = self.lock();
        match &found {
            Some(client) if !self.ttl.is_zero() && state.generation == generation => {
                if !state.entries.contains_key(id) && state.entries.len() >= MAX_CACHED_CLIENTS {
                    state.entries.clear();
                }
                state
                    .entries
                    .insert(id.clone(), (now, Arc::new(client.clone())));
            }
            _ => {
                state.entries.remove(id);
            }
        }
        Ok(found)
    }

    /// `None` if the throttle let an authentication as `counted` from `from` through within
    /// the time to live; otherwise the throttle is to be asked, and the ticket to hand
    /// [`remember_let_through`](Self::remember_let_through) if it lets this one through.
    pub(super) fn let_through(&self, counted: &str, from: Option<IpAddr>) -> Option<Ticket> {
        let now = self.clock.now();
        let state = self.lock();
        let recently = state
            .let_through
            .get(&from)
            .and_then(|clients| clients.get(counted))
            .is_some_and(|at| now.duration_since(*at).is_ok_and(|age| age < self.ttl));
        (!recently).then_some(Ticket {
            asked_at: now,
            generation: state.let_through_generation,
        })
    }

    /// Remembers that the throttle, asked with `ticket`, let an authentication as `counted`
    /// from `from` through: not if a failure was counted since the ticket was taken.
    pub(super) fn remember_let_through(&self, counted: &str, from: Option<IpAddr>, ticket: Ticket) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.let_through_generation != ticket.generation {
            return;
        }
        if !state.let_through.contains_key(&from) && state.let_through.len() >= MAX_CACHED_ADDRESSES
        {
            state.let_through.clear();
        }
        state
            .let_through
            .entry(from)
            .or_default()
            .insert(counted.to_owned(), ticket.asked_at);
    }

    /// Forgets every client let through from `from`: a client's authentication from there
    /// failed, and its count may make the address's counter ask for a wait.
    pub(super) fn forget_let_through(&self, from: Option<IpAddr>) {
        let mut state = self.lock();
        state.let_through_generation = state.let_through_generation.wrapping_add(1);
        state.let_through.remove(&from);
    }

    /// Forgets the client: it was deleted through this process.
    pub(super) fn forget(&self, id: &ClientId) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.entries.remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
