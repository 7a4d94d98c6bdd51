//! The passkey settings: the relying party (`PASSKEY_RP_ID`, `PASSKEY_RP_NAME`), the pages
//! that run the ceremonies (`PASSKEY_ORIGINS`), and what a sign-in counter that does not
//! increase leads to (`PASSKEY_COUNTER_POLICY`). Passkeys are on when `PASSKEY_RP_ID` is set.

use auth_core::flows::{CounterPolicy, PasskeyConfig};

/// Reads the passkey settings; `app_url` (the mail links' base) is the default origin.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    app_url: &str,
    product_name: &str,
    problems: &mut Vec<String>,
) -> Option<PasskeyConfig> {
    let Some(rp_id) = get("PASSKEY_RP_ID") else {
        for name in [
            "PASSKEY_RP_NAME",
            "PASSKEY_ORIGINS",
            "PASSKEY_COUNTER_POLICY",
        ] {
            if get(name).is_some() {
                problems.push(format!(
                    "{name}: set without PASSKEY_RP_ID; passkeys are on only with a relying party id"
                ));
            }
        }
        return None;
    };
    let origins: Vec<String> = match get("PASSKEY_ORIGINS") {
        Some(list) => list
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty())
            .collect(),
        None => vec![app_url.trim_end_matches('/').to_owned()],
    };
    if production && origins.iter().any(|origin| !origin.starts_with("https://")) {
        problems.push("PASSKEY_ORIGINS: production runs passkeys on https:// origins only".into());
    }
    let counter_policy = match get("PASSKEY_COUNTER_POLICY").as_deref() {
        None | Some("refuse") => CounterPolicy::Refuse,
        Some("accept") => CounterPolicy::AcceptAndFlag,
        Some(other) => {
            problems.push(format!(
                "PASSKEY_COUNTER_POLICY: {other:?} is not refuse or accept"
            ));
            CounterPolicy::Refuse
        }
    };
    let config = PasskeyConfig {
        counter_policy,
        ..PasskeyConfig::new(
            rp_id,
            get("PASSKEY_RP_NAME").unwrap_or_else(|| product_name.to_owned()),
            origins,
        )
    };
    // The same check the server makes when it builds the relying party, said at start.
    if let Err(error) = config.validate() {
        problems.push(format!(
            "PASSKEY_RP_ID or PASSKEY_ORIGINS: {}",
            error.to_string().replace("invalid configuration: ", "")
        ));
    }
    Some(config)
}
