//! Sign-in, sign-out and the password change pages.

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use liandong_service::demo::DEMO_PASSWORD;
use liandong_service::ServiceError;
use serde::Deserialize;

use super::{render, FormData, Layout};
use crate::auth::{
    cookie, login_csrf_cookie, session_cookie, set_cookie, source_of, PageAuth, Signed,
};
use crate::error::{AppError, AppResult};
use crate::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    demo_password: Option<&'static str>,
    threshold: i64,
    lock_minutes: i64,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// Only same-site paths: an open redirect would help phishing.
pub fn safe_next(next: &str) -> String {
    // Browsers drop tabs and newlines and read `\\` as `/`, so "/\t/evil" would leave the site.
    let plain = !next.chars().any(|c| c.is_control() || c == '\\');
    if plain && next.starts_with('/') && !next.starts_with("//") {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

fn login_page(
    st: &AppState,
    auth: &crate::auth::Auth,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
) -> LoginPage {
    let s = &st.app.settings;
    LoginPage {
        l: Layout::new("登录", "", auth),
        csrf,
        next,
        username,
        error,
        demo_password: s.demo.then_some(DEMO_PASSWORD),
        threshold: s.lockout_threshold,
        lock_minutes: s.lockout_minutes,
    }
}

pub async fn login_form(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    Query(q): Query<NextQuery>,
    req: Request,
) -> AppResult<Response> {
    let secure = st.app.settings.secure_cookies;
    if auth.principal.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let existing = cookie(req.headers(), login_csrf_cookie(secure)).filter(|c| c.len() == 64);
    let token = existing
        .clone()
        .unwrap_or_else(liandong_service::auth::random_token);
    let notice = q
        .expired
        .is_some()
        .then(|| "登录已超时（长时间未操作），请重新登录".to_owned());
    let page = login_page(
        &st,
        &auth,
        token.clone(),
        safe_next(q.next.as_deref().unwrap_or("/")),
        String::new(),
        notice,
    );
    let mut res = render(&page)?;
    if existing.is_none() {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(login_csrf_cookie(secure), &token, secure, None),
        );
    }
    Ok(res)
}

pub async fn login(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    req: Request,
) -> AppResult<Response> {
    let secure = st.app.settings.secure_cookies;
    let source = source_of(&req);
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let csrf = cookie(req.headers(), login_csrf_cookie(secure)).unwrap_or_default();
    let form = FormData::from_request(req, &st).await?;
    let username = form.text("username");
    let next = safe_next(form.get("next").unwrap_or("/"));
    match st
        .app
        .sign_in(
            &username,
            form.get("password").unwrap_or(""),
            &source,
            &ua,
            chrono::Utc::now(),
        )
        .await
    {
        Ok(signed) => {
            let target = if signed.must_change_password {
                "/password".to_owned()
            } else {
                next
            };
            let mut res = Redirect::to(&target).into_response();
            let max_age = st.app.settings.session_idle_minutes * 60 * 16;
            res.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(session_cookie(secure), &signed.token, secure, Some(max_age)),
            );
            Ok(res)
        }
        Err(e) => {
            let status = match &e {
                ServiceError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                ServiceError::AccountDisabled => StatusCode::FORBIDDEN,
                ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
                _ => return Err(e.into()),
            };
            let page = login_page(&st, &auth, csrf, next, username, Some(e.to_string()));
            let html = page.render().map_err(AppError::internal)?;
            Ok((status, Html(html)).into_response())
        }
    }
}

use axum::extract::FromRequest;

pub async fn logout(State(st): State<AppState>, Signed(p): Signed) -> AppResult<Response> {
    st.app.sign_out(&p, chrono::Utc::now()).await?;
    let secure = st.app.settings.secure_cookies;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session_cookie(secure), "", secure, Some(0)),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    l: Layout,
    forced: bool,
    error: Option<String>,
    policy: String,
}

pub async fn password_form(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    Signed(p): Signed,
) -> AppResult<Response> {
    render(&PasswordPage {
        l: Layout::new("修改密码", "", &auth),
        forced: p.must_change_password,
        error: None,
        policy: st.app.settings.password_policy.describe(),
    })
}

pub async fn change_password(
    State(st): State<AppState>,
    PageAuth(auth): PageAuth,
    Signed(p): Signed,
    form: FormData,
) -> AppResult<Response> {
    let new = form.get("new_password").unwrap_or("");
    let result = if new != form.get("confirm").unwrap_or("") {
        Err(ServiceError::invalid("confirm", "两次输入的新密码不一致"))
    } else {
        st.app
            .change_password(
                &p,
                form.get("old_password").unwrap_or(""),
                new,
                chrono::Utc::now(),
            )
            .await
    };
    match result {
        Ok(()) => Ok(Redirect::to("/?msg=password").into_response()),
        Err(ServiceError::Validation { message, .. }) => {
            let page = PasswordPage {
                l: Layout::new("修改密码", "", &auth),
                forced: p.must_change_password,
                error: Some(message),
                policy: st.app.settings.password_policy.describe(),
            };
            let html = page.render().map_err(AppError::internal)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
