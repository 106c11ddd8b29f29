//! The web UI for tenant admins and operators, served by `stormwatch serve` under `/ui/`:
//! server-rendered pages (no build step beyond the one npm package that brings the chart
//! library), the same roles as the API, and the security a browser needs.
//!
//! Why server-rendered: every page is a view of the store in the viewer's scope, built where
//! the scope is enforced; the browser runs only the chart code (Chart.js, served from the binary,
//! never a CDN) and a few lines of progressive enhancement (`ui/app.js`). Forms post with a
//! CSRF token; the pages work without script except for the charts.
//!
//! Security headers on every `/ui` answer: a Content-Security-Policy without inline script or
//! style (`default-src 'self'`, `frame-ancestors 'none'`, `form-action 'self'`,
//! `base-uri 'none'`), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: same-origin`, and `Cache-Control: no-store` on pages.

pub mod auth;
pub mod html;
pub mod mail;
pub mod manage;
pub mod pages;

use crate::serve::api::ApiError;
use crate::serve::State;
use auth::{LoginError, Session};
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use stormwatch_store::{Role, Scope};

/// The chart library, from the npm step (see build.rs); empty when it was not installed.
const CHART_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/chart.umd.js"));
const APP_JS: &str = include_str!("../../ui/app.js");
const APP_CSS: &str = include_str!("../../ui/app.css");
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// A page's failure, rendered as a page.
#[derive(Debug)]
pub enum Ui {
    /// Not signed in: to the sign-in page.
    SignIn,
    NotFound,
    Forbidden,
    Bad(String),
    Internal,
}

impl From<ApiError> for Ui {
    fn from(_: ApiError) -> Self {
        Ui::Internal
    }
}

impl IntoResponse for Ui {
    fn into_response(self) -> Response {
        let (code, title, text) = match self {
            Ui::SignIn => return Redirect::to("/ui/login").into_response(),
            Ui::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here in your scope.".to_string(),
            ),
            Ui::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role may not do this.".to_string(),
            ),
            Ui::Bad(m) => (StatusCode::BAD_REQUEST, "Not done", m),
            Ui::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "Something failed; see the service log.".to_string(),
            ),
        };
        let body = format!(
            "<p>{}</p><p><a href=\"/ui/\">Back to the overview</a></p>",
            html::esc(&text)
        );
        (code, Html(html::page(title, None, &body))).into_response()
    }
}

pub type UiResult = Result<Response, Ui>;

/// The signed-in viewer of a request.
pub struct Viewer {
    pub token: String,
    pub session: Session,
}

impl Viewer {
    pub fn scope(&self) -> Scope {
        Scope::for_role(self.session.role, self.session.tenant.as_deref())
    }

    pub fn operator(&self) -> Result<(), Ui> {
        match self.session.role {
            Role::Operator => Ok(()),
            Role::TenantAdmin => Err(Ui::Forbidden),
        }
    }
}

/// The session cookie's value.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("sw_session=").map(str::to_string))
}

/// The viewer, or [`Ui::SignIn`].
pub fn signed_in(state: &State, headers: &HeaderMap) -> Result<Viewer, Ui> {
    let token = cookie_token(headers).ok_or(Ui::SignIn)?;
    let session = state
        .ui_auth
        .session(&token, Instant::now())
        .ok_or(Ui::SignIn)?;
    Ok(Viewer { token, session })
}

/// Checks a form's CSRF token against the session's.
pub fn form_csrf(v: &Viewer, presented: &str) -> Result<(), Ui> {
    if auth::same(presented, &v.session.csrf) {
        Ok(())
    } else {
        Err(Ui::Bad(
            "The form expired or did not come from this site; reload the page and try again."
                .into(),
        ))
    }
}

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(pages::overview))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/incidents", get(pages::incidents))
        .route("/ui/incidents/{id}", get(pages::incident))
        .route("/ui/incidents/{id}/{what}", post(pages::act))
        .route("/ui/mailboxes/{upn}", get(manage::mailbox))
        .route("/ui/rules", get(manage::rules).post(manage::upload))
        .route("/ui/retro-hunt", post(manage::retro_hunt))
        .route("/ui/settings", get(manage::settings))
        .route("/ui/api-keys", post(manage::create_key))
        .route("/ui/api-keys/{id}/delete", post(manage::delete_key))
        .route("/ui/assets/{file}", get(asset))
        .layer(axum::middleware::from_fn(security_headers))
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asset = req.uri().path().starts_with("/ui/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind): (&[u8], &str) = match file.as_str() {
        "app.js" => (APP_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS.as_bytes(), "text/css; charset=utf-8"),
        "chart.umd.js" => (CHART_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

fn login_form(message: Option<&str>) -> String {
    let msg = message.map_or(String::new(), |m| {
        format!("<p role=\"alert\" class=\"error\">{}</p>", html::esc(m))
    });
    format!(
        "{msg}<form method=\"post\" action=\"/ui/login\" class=\"login\">\
         <label for=\"user\">User name</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>"
    )
}

async fn login_page(AxState(state): AxState<Arc<State>>) -> Response {
    if !state.ui_auth.enabled() {
        return Ui::NotFound.into_response();
    }
    Html(html::page("Sign in", None, &login_form(None))).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

/// Whether a browser's `Origin` (when sent) is this site: sign-in forms posted from elsewhere
/// (login CSRF) are refused.
fn same_site_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, h)| h.eq_ignore_ascii_case(host))
}

async fn login(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    if !same_site_origin(&headers) {
        return Ui::Forbidden.into_response();
    }
    let st = Arc::clone(&state);
    let out =
        tokio::task::spawn_blocking(move || st.ui_auth.login(&f.user, &f.password, Instant::now()))
            .await;
    match out {
        Ok(Ok((token, _))) => {
            let secure = if state.config.ui.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "sw_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
                state.config.ui.session_hours * 3600
            );
            let mut r = Redirect::to("/ui/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(LoginError::Wrong)) => (
            StatusCode::UNAUTHORIZED,
            Html(html::page(
                "Sign in",
                None,
                &login_form(Some("Wrong user name or password.")),
            )),
        )
            .into_response(),
        Ok(Err(LoginError::Locked(d))) => (
            StatusCode::TOO_MANY_REQUESTS,
            Html(html::page(
                "Sign in",
                None,
                &login_form(Some(&format!(
                    "Too many failed sign-ins for this name; try again in {} minutes.",
                    d.as_secs().div_ceil(60)
                ))),
            )),
        )
            .into_response(),
        Err(_) => Ui::Internal.into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<CsrfForm>,
) -> UiResult {
    let v = signed_in(&state, &headers)?;
    form_csrf(&v, &f.csrf)?;
    state.ui_auth.logout(&v.token);
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sw_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_posts_from_another_origin_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8480"));
        assert!(
            same_site_origin(&h),
            "no Origin: not a cross-site browser post"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8480"),
        );
        assert!(same_site_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_site_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_site_origin(&h));
    }
}
