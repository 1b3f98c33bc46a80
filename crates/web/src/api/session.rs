//! `/api/v1/session`: sign-in for scripts and browsers, sign-out, password change.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{session_cookie, set_cookie, source_of, AnyUser, Require, Signed};
use crate::error::AppResult;
use crate::json::AppJson;
use crate::AppState;

#[derive(Deserialize, ToSchema)]
pub struct SignInRequest {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    username: String,
    role: String,
    display_name: String,
    /// Department or township ids the user acts for.
    units: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SignInResponse {
    token: String,
    user: SessionUser,
    must_change_password: bool,
}

fn session_user(u: &liandong_store::User) -> SessionUser {
    SessionUser {
        username: u.username.clone(),
        role: u.role.code().to_owned(),
        display_name: u.display_name.clone(),
        units: u.unit_ids(),
    }
}

/// Signs in; the token is sent by scripts as `Authorization: Bearer <token>`.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", security(()), request_body = SignInRequest,
    responses((status = 200, body = SignInResponse), (status = 401, description = "用户名或密码错误", body = crate::error::ErrorBody),
        (status = 429, description = "失败次数过多，账号已锁定", body = crate::error::ErrorBody)))]
pub async fn sign_in(State(st): State<AppState>, req: Request) -> AppResult<Response> {
    let source = source_of(&req);
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let AppJson(body) =
        <AppJson<SignInRequest> as axum::extract::FromRequest<AppState>>::from_request(req, &st)
            .await?;
    let signed = st
        .app
        .sign_in(
            &body.username,
            &body.password,
            &source,
            &ua,
            chrono::Utc::now(),
        )
        .await?;
    let secure = st.app.settings.secure_cookies;
    let mut res = Json(SignInResponse {
        token: signed.token.clone(),
        user: session_user(&signed.user),
        must_change_password: signed.must_change_password,
    })
    .into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            session_cookie(secure),
            &signed.token,
            secure,
            Some(st.app.settings.session_idle_minutes * 60 * 16),
        ),
    );
    Ok(res)
}

#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    user: SessionUser,
    must_change_password: bool,
    /// The CSRF token a browser page sends as `X-CSRF-Token` with cookie-authenticated changes.
    csrf_token: String,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", responses((status = 200, body = CurrentSession), (status = 401, body = crate::error::ErrorBody)))]
pub async fn current(u: Require<AnyUser>) -> Json<CurrentSession> {
    let p = u.principal();
    Json(CurrentSession {
        user: session_user(&p.user),
        must_change_password: p.must_change_password,
        csrf_token: p.session.csrf_token.clone(),
    })
}

/// Signs out: the token stops working.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn sign_out(State(st): State<AppState>, Signed(p): Signed) -> AppResult<Response> {
    st.app.sign_out(&p, chrono::Utc::now()).await?;
    let secure = st.app.settings.secure_cookies;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session_cookie(secure), "", secure, Some(0)),
    );
    Ok(res)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    old_password: String,
    new_password: String,
}

/// Changes the signed-in user's password (the only call allowed while a change is required).
#[utoipa::path(put, path = "/api/v1/session/password", tag = "session", request_body = PasswordChange,
    responses((status = 204), (status = 422, description = "原密码错误或新密码不符合策略", body = crate::error::ErrorBody)))]
pub async fn change_password(
    State(st): State<AppState>,
    Signed(p): Signed,
    AppJson(body): AppJson<PasswordChange>,
) -> AppResult<StatusCode> {
    st.app
        .change_password(
            &p,
            &body.old_password,
            &body.new_password,
            chrono::Utc::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
