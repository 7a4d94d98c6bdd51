//! The example's own user store against the library's conformance check for `UserStore`,
//! plus what it promises beyond it: one account per email, whatever the case.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::SystemTime;

use auth_core::Error;
use auth_core::id::UserId;
use auth_core::store::conformance;
use auth_core::store::{User, UserStore};
use auth_examples::custom_user_store::UserDirectory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_directory_passes_the_user_store_conformance_check() {
    conformance::users_are_stored_found_and_unique(Arc::new(UserDirectory::new())).await;
    conformance::addresses_are_verified_and_changed(Arc::new(UserDirectory::new())).await;
}

#[tokio::test]
async fn user_directory_finds_and_refuses_emails_whatever_their_case() {
    let directory = UserDirectory::new();
    let user = User {
        id: UserId::new(),
        email: "Ada@Example.com".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: SystemTime::now(),
        epoch: 0,
        email_verified_at: None,
        locale: None,
    };
    directory.create_user(user.clone()).await.unwrap();

    let found = directory.user_by_email("ada@example.COM").await.unwrap();
    assert_eq!(found.as_ref().map(|u| u.id), Some(user.id));

    let twin = User {
        id: UserId::new(),
        email: "ADA@EXAMPLE.COM".into(),
        ..user
    };
    assert!(matches!(
        directory.create_user(twin).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(directory.len(), 1);
}
