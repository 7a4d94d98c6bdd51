//! Cookies: reading one from a request, writing the `Set-Cookie` that keeps or clears it.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};

/// The values of every cookie called `name` in the request's `Cookie` headers, in order.
pub(crate) fn values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(move |pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// The longest cookie value read: browsers keep 4096 bytes per cookie, name included.
pub const MAX_VALUE_LEN: usize = 4000;

/// The `SameSite` attribute of a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (a link followed), never on their
    /// form posts, scripts or frames. The default.
    Lax,
    /// Never sent on a request another site started.
    Strict,
    /// Sent on every request, from any site: only for tests that show the CSRF check holds
    /// on its own.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// A cookie this crate sets: its name and `SameSite`; always `Secure`, `HttpOnly` and
/// `Path=/` with no `Domain`, as the `__Host-` prefix requires. Browsers treat
/// `http://localhost` as secure, so development and tests run with the same attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    name: String,
    same_site: SameSite,
}

impl CookieSpec {
    /// A cookie called `name`, `SameSite=Lax`. Give it the `__Host-` prefix: a browser then
    /// refuses it from a sibling domain or over plain HTTP.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            same_site: SameSite::Lax,
        }
    }

    /// Its `SameSite` attribute.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` value that stores `value` for `max_age` (a session cookie, gone when
    /// the browser closes, without one). `value` must be cookie-safe (base64url is).
    pub fn set(&self, value: &str, max_age: Option<Duration>) -> HeaderValue {
        let mut cookie = format!(
            "{}={value}; Path=/; Secure; HttpOnly; SameSite={}",
            self.name,
            self.same_site.as_str()
        );
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
        }
        let mut value = HeaderValue::from_str(&cookie).unwrap_or_else(|_| self.clear());
        value.set_sensitive(true);
        value
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{}=; Path=/; Secure; HttpOnly; SameSite={}; Max-Age=0",
            self.name,
            self.same_site.as_str()
        ))
        .unwrap_or(HeaderValue::from_static("invalid=; Max-Age=0"))
    }

    /// The cookie's value in `headers`, if the request carries it once with a cookie-safe
    /// value (`A-Z a-z 0-9 - _ . ~`, at most [`MAX_VALUE_LEN`] bytes: a signed token fits);
    /// a request carrying it twice (one tossed in by a sibling domain, say) gets nothing.
    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        let mut sent = values(headers, &self.name);
        let found = sent.next().map(str::to_owned);
        if sent.next().is_some() {
            return None;
        }
        found.filter(|value| {
            !value.is_empty()
                && value.len() <= MAX_VALUE_LEN
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        })
    }
}
