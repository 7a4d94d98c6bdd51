//! The pages a mailed link opens: a button (and, for a reset, the new password) that posts
//! the token back. Opening a page never uses its token (mail scanners open links); the page
//! answers with `Referrer-Policy: no-referrer` so the token in its address goes nowhere else,
//! `Cache-Control: no-store` (as every answer of the API), and a content security policy
//! that allows nothing to load (no script, no style) and forms to post only to this server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

use auth_core::mail::templates::escape_html as escape;

/// A whole page: `title` (text) above `body` (HTML, already escaped), answered with `status`.
fn page(status: StatusCode, product: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title} · {product}</title></head>\
         <body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title),
        product = escape(product),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// A page with a form that posts `token` (and the fields of `fields`, HTML) to `action` with
/// a button labelled `button`.
pub(super) fn form(
    product: &str,
    title: &str,
    text: &str,
    action: &str,
    token: &str,
    fields: &str,
    button: &str,
) -> Response {
    let body = format!(
        "<p>{text}</p>\n<form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">{fields}\
         <button type=\"submit\">{button}</button></form>",
        text = escape(text),
        action = escape(action),
        token = escape(token),
        button = escape(button),
    );
    page(StatusCode::OK, product, title, &body)
}

/// The fields of a reset page: the new password, and the second factor for an account that
/// has one.
pub(super) const RESET_FIELDS: &str = "<label for=\"new_password\">New password</label>\
    <input id=\"new_password\" name=\"new_password\" type=\"password\" \
    autocomplete=\"new-password\" minlength=\"12\" maxlength=\"128\" required>\
    <label for=\"code\">Authenticator or recovery code (only if your account has one)</label>\
    <input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"one-time-code\" \
    inputmode=\"numeric\">";

/// A page that says what happened.
pub(super) fn done(product: &str, title: &str, text: &str) -> Response {
    page(
        StatusCode::OK,
        product,
        title,
        &format!("<p>{}</p>", escape(text)),
    )
}

/// A page that says why the request was refused, with the status of the refusal.
pub(super) fn refused(product: &str, error: &ApiError) -> Response {
    let title = match error.status() {
        StatusCode::GONE => "This link no longer works",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        _ => "That did not work",
    };
    let mut text = escape(error.message());
    if error.status() == StatusCode::GONE {
        text.push_str(
            ". It was used already, it expired, or a newer one was sent. Ask for a new one.",
        );
    }
    let mut response = page(error.status(), product, title, &format!("<p>{text}</p>"));
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A page for a request that came without its token.
pub(super) fn no_token(product: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        product,
        "This link is incomplete",
        "<p>The link has no token. Open the whole link from the mail.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show_and_keep_their_token_to_themselves() {
        let response = form(
            "Acme <b>",
            "Verify",
            "Confirm \"this\"",
            "/v1/auth/email/verify",
            "\"><script>x</script>",
            "",
            "Go",
        );
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        let policy = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default();
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
