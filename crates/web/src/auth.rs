//! Who is asking: the session middleware (bearer token or cookie), CSRF protection for
//! cookie-authenticated changes, security headers, and the extractors that put each handler's
//! access rule in its signature.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use liandong_domain::Role;
use liandong_service::auth::{tokens_match, NoSession};
use liandong_service::Principal;

use crate::error::AppError;
use crate::AppState;

/// The request's authentication, put in its extensions by [`resolve`].
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub principal: Option<Principal>,
    /// The CSRF token forms on this page must carry.
    pub csrf: String,
    /// A session token was sent but its session had timed out.
    pub expired: bool,
}

impl Auth {
    /// The error for a request that needs a user but has none.
    fn missing(&self) -> AppError {
        if self.expired {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "登录已超时（长时间未操作），请重新登录",
            )
        } else {
            AppError::unauthenticated()
        }
    }
}

pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-liandong_session"
    } else {
        "liandong_session"
    }
}

/// The double-submit token that protects the sign-in form (no session exists yet).
pub fn login_csrf_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-liandong_csrf"
    } else {
        "liandong_csrf"
    }
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, and Secure when TLS is in front.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        s.push_str("; Secure");
    }
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

pub fn source_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Resolves the session of every request and enforces CSRF protection on state changes made
/// with the session cookie (scripts using bearer tokens are not exposed to CSRF).
pub async fn resolve(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let secure = st.app.settings.secure_cookies;
    let source = source_of(&req);
    let headers = req.headers().clone();
    let (token, via_cookie) = match bearer(&headers) {
        Some(t) => (Some(t), false),
        None => (cookie(&headers, session_cookie(secure)), true),
    };
    let (principal, expired) = match token {
        Some(t) => match st.app.authenticate(&t, &source, chrono::Utc::now()).await? {
            Ok(p) => (Some(p), false),
            Err(why) => (None, why == NoSession::Expired),
        },
        None => (None, false),
    };
    let is_api = req.uri().path().starts_with("/api/");
    let expected = match (&principal, via_cookie) {
        (Some(p), true) => Some(p.session.csrf_token.clone()),
        (Some(_), false) => None,
        (None, _) if is_api => None,
        // A form posted after the session timed out is answered "session expired" (and sent
        // to sign in again) by the handler, not refused as a forgery.
        (None, _) if expired && req.uri().path() != "/login" => None,
        (None, _) => Some(cookie(&headers, login_csrf_cookie(secure)).unwrap_or_default()),
    };
    let csrf = expected.clone().unwrap_or_default();
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut req = req;
    if let (true, Some(expected)) = (unsafe_method, expected) {
        let mut given = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                req.uri()
                    .query()
                    .and_then(|q| form_field(q.as_bytes(), "_csrf"))
            });
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if given.is_none() && is_form {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, st.app.settings.body_limit_bytes)
                .await
                .map_err(|_| {
                    AppError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "提交的内容过大",
                    )
                })?;
            given = form_field(&bytes, "_csrf");
            req = Request::from_parts(parts, Body::from(bytes));
        }
        let ok = !expected.is_empty() && given.is_some_and(|g| tokens_match(&g, &expected));
        if !ok {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "页面已过期或请求来源无效（缺少安全令牌），请刷新页面后重试",
            ));
        }
    }
    let auth = Auth {
        principal,
        csrf,
        expired,
    };
    req.extensions_mut().insert(auth.clone());
    let mut res = next.run(req).await;
    // The page error renderer, outside this layer, lays out error pages for this user.
    res.extensions_mut().insert(auth);
    Ok(res)
}

/// Security headers on every answer; personal data is never cached.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if is_static {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

fn auth_of(parts: &Parts) -> Auth {
    parts.extensions.get::<Auth>().cloned().unwrap_or_default()
}

/// Any signed-in user, even one who must still change the password (for the change itself
/// and for signing out).
pub struct Signed(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let auth = auth_of(parts);
        match auth.principal {
            Some(p) => Ok(Signed(p)),
            None => Err(auth.missing()),
        }
    }
}

/// An access rule on roles, named in handler signatures as `Require<Rule>`.
pub trait Rule {
    fn allows(role: Role) -> bool;
    const DENIED: &'static str;
}

/// Any signed-in user whose password is in order.
pub struct AnyUser;
impl Rule for AnyUser {
    fn allows(_: Role) -> bool {
        true
    }
    const DENIED: &'static str = "";
}

/// Office administrators: users, registry, townships.
pub struct Admin;
impl Rule for Admin {
    fn allows(role: Role) -> bool {
        role.administers()
    }
    const DENIED: &'static str = "仅联动办公室管理员可以进行此操作";
}

/// The linkage office (administrators and staff).
pub struct Office;
impl Rule for Office {
    fn allows(role: Role) -> bool {
        role.is_office()
    }
    const DENIED: &'static str = "仅联动办公室可以进行此操作";
}

/// Readers of the operation and login logs: office administrators and auditors.
pub struct AuditReader;
impl Rule for AuditReader {
    fn allows(role: Role) -> bool {
        role.reads_audit()
    }
    const DENIED: &'static str = "仅联动办公室管理员和纪委监委可以查看日志";
}

/// Anyone who may change something (every role but the read-only auditor).
pub struct Writer;
impl Rule for Writer {
    fn allows(role: Role) -> bool {
        !role.read_only()
    }
    const DENIED: &'static str = "只读账号不能修改数据";
}

/// Leaders in charge, who approve quarterly rankings.
pub struct Leader;
impl Rule for Leader {
    fn allows(role: Role) -> bool {
        role == Role::Leader
    }
    const DENIED: &'static str = "仅分管领导可以审定排序结果";
}

/// Who enters evaluations: the office, and the task-force office for its extended evaluation.
pub struct Evaluator;
impl Rule for Evaluator {
    fn allows(role: Role) -> bool {
        role.is_office() || role == Role::Taskforce
    }
    const DENIED: &'static str = "仅联动办公室和县专班办公室可以录入评价结果";
}

/// The office and the verification team (核查暗访小组): verifications and their findings.
pub struct VerificationTeam;
impl Rule for VerificationTeam {
    fn allows(role: Role) -> bool {
        role.is_office() || role == Role::Verifier
    }
    const DENIED: &'static str = "仅联动办公室和核查暗访小组可以进行核查";
}

pub struct Require<R: Rule>(pub Principal, PhantomData<R>);

impl<R: Rule> Require<R> {
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync, R: Rule> FromRequestParts<S> for Require<R> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let auth = auth_of(parts);
        let Some(p) = auth.principal else {
            return Err(auth.missing());
        };
        if p.must_change_password {
            return Err(liandong_service::ServiceError::PasswordChangeRequired.into());
        }
        if !R::allows(p.user.role) {
            return Err(AppError::forbidden(R::DENIED));
        }
        Ok(Require(p, PhantomData))
    }
}

/// The CSRF token for forms, and the signed-in user if any (for pages open to everyone).
pub struct PageAuth(pub Auth);

impl<S: Send + Sync> FromRequestParts<S> for PageAuth {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(PageAuth(auth_of(parts)))
    }
}
