//! What a user granted a client: authorization codes, consent, and the client grant a session
//! carries. [`GrantStore`](crate::store::GrantStore) keeps codes and consent; a client's
//! tokens live in an ordinary [`Session`](crate::store::Session) marked with its
//! [`ClientGrant`], so everything that ends sessions (sign-out everywhere, a credentials
//! epoch change, a disabled account) ends the client's tokens too.

use std::time::{Duration, SystemTime};

use super::{ClientId, CodeChallenge};
use crate::authz::ScopeSet;
use crate::id::{Amr, SecretHash, SessionId, UserId};

/// How long an authorization code may be redeemed: a minute, as RFC 6749 section 4.1.2
/// recommends at most ten.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// The OAuth side of a session: the client it was granted to and the scopes granted. A
/// session without one is the server's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    /// The client whose tokens the session holds.
    pub client_id: ClientId,
    /// The scopes the user granted it (the ceiling of every token of the session).
    pub scope: ScopeSet,
}

/// An authorization code, as stored (the code itself only as its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// The SHA-256 digest of the code.
    pub hash: SecretHash,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user who authorized it.
    pub user_id: UserId,
    /// The `redirect_uri` of the authorization request, which the token request must repeat.
    pub redirect_uri: String,
    /// The scopes granted.
    pub scope: ScopeSet,
    /// The request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge, if the request had one.
    pub code_challenge: Option<CodeChallenge>,
    /// How the user authenticated.
    pub amr: Amr,
    /// When the user last authenticated.
    pub auth_time: SystemTime,
    /// The user's credentials epoch when they authorized: a change since refuses the code.
    pub epoch: u64,
    /// When it was issued.
    pub created_at: SystemTime,
    /// When it stops being redeemable.
    pub expires_at: SystemTime,
}

/// What presenting a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was live and unused: it is now spent, by the session named in the call.
    Redeemed(AuthorizationCode),
    /// The code was spent already, by `session`: the caller ends that session (RFC 6749
    /// section 4.1.2: the tokens issued from a code die when it is replayed).
    Replayed {
        /// The code.
        code: AuthorizationCode,
        /// The session its first redemption started.
        session: SessionId,
    },
    /// No such code, or it expired unused.
    Unknown,
}

/// A user's consent to a client: the scopes they agreed it may have. Asked again only for
/// scopes beyond these (or when the client asks with `prompt=consent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Who consented.
    pub user_id: UserId,
    /// To which client.
    pub client_id: ClientId,
    /// The scopes agreed to, over every consent given.
    pub scope: ScopeSet,
    /// When consent was last given.
    pub granted_at: SystemTime,
}
