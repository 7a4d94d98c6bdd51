//! The hosted pages' settings: whether they are served (`UI_ENABLED`), their text in other
//! languages (`UI_LOCALES_DIR`) and the cookies' `SameSite` (`UI_COOKIE_SAMESITE`).

use auth_tower::browser::SameSite;

use crate::ui::UiSettings;
use crate::ui::strings::Catalogue;

/// Reads the pages' settings.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    problems: &mut Vec<String>,
) -> UiSettings {
    let enabled = match get("UI_ENABLED").as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            problems.push(format!("UI_ENABLED: {other:?} is not true or false"));
            true
        }
    };
    let catalogue = match get("UI_LOCALES_DIR") {
        Some(dir) => Catalogue::with_dir(std::path::Path::new(&dir)).unwrap_or_else(|problem| {
            problems.push(format!("UI_LOCALES_DIR: {problem}"));
            Catalogue::english()
        }),
        None => Catalogue::english(),
    };
    let same_site = match get("UI_COOKIE_SAMESITE").as_deref() {
        None | Some("lax") => SameSite::Lax,
        Some("strict") => SameSite::Strict,
        Some("none") if production => {
            problems.push(
                "UI_COOKIE_SAMESITE: none sends the session cookie with other sites' requests; \
                 production keeps lax or strict"
                    .to_owned(),
            );
            SameSite::Lax
        }
        Some("none") => SameSite::None,
        Some(other) => {
            problems.push(format!(
                "UI_COOKIE_SAMESITE: {other:?} is not lax, strict or none"
            ));
            SameSite::Lax
        }
    };
    UiSettings {
        enabled,
        catalogue,
        same_site,
    }
}
