//! One error type for the whole web layer. It renders as api.md's JSON under `/api` and as a
//! Chinese page (or a redirect to sign-in) elsewhere; internal details are logged, never shown.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use liandong_service::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Row-by-row problems of an import.
    pub details: Vec<String>,
}

/// The error body of every failed API call (api.md "Conventions").
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code.
    pub code: String,
    /// 中文说明
    pub message: String,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, e.g. of an import: 第 3 行“月份”列：…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            field: None,
            details: Vec::new(),
        }
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
        AppError {
            field: Some(field.to_owned()),
            ..AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthenticated() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录")
    }
    pub fn internal(detail: impl std::fmt::Display) -> AppError {
        tracing::error!(%detail, "internal error");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试或联系管理员",
        )
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> AppError {
        let msg = e.to_string();
        match e {
            ServiceError::Validation { field, message } => AppError::invalid(&field, message),
            ServiceError::Unauthenticated => AppError::unauthenticated(),
            ServiceError::BadCredentials => {
                AppError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", msg)
            }
            ServiceError::TooManyAttempts { .. } => {
                AppError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", msg)
            }
            ServiceError::AccountDisabled => {
                AppError::new(StatusCode::FORBIDDEN, "account_disabled", msg)
            }
            ServiceError::PasswordChangeRequired => {
                AppError::new(StatusCode::FORBIDDEN, "password_change_required", msg)
            }
            ServiceError::Forbidden(m) => AppError::forbidden(m),
            ServiceError::NotFound(m) => AppError::not_found(m),
            ServiceError::Conflict(m) => AppError::new(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Locked(m) => AppError::new(StatusCode::CONFLICT, "period_locked", m),
            ServiceError::Store(e) => AppError::internal(e),
            ServiceError::Internal(e) => AppError::internal(e),
        }
    }
}

impl From<liandong_store::StoreError> for AppError {
    fn from(e: liandong_store::StoreError) -> AppError {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let detail = ErrorDetail {
            code: self.code.to_owned(),
            message: self.message,
            field: self.field,
            details: self.details,
        };
        let mut res = (
            self.status,
            Json(ErrorBody {
                error: detail.clone(),
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        // The page layer replaces the JSON with a page when it sees this.
        res.extensions_mut().insert(detail);
        res
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Gives axum's own rejections (bad path parameters, bad query strings, wrong methods), which
/// are English plain text, the api.md shape and a Chinese message.
pub async fn normalize_rejections(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !status.is_client_error() || res.extensions().get::<ErrorDetail>().is_some() {
        return res;
    }
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !plain {
        return res;
    }
    let text = axum::body::to_bytes(res.into_body(), 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let err = if status == StatusCode::METHOD_NOT_ALLOWED {
        AppError::new(status, "method_not_allowed", "不支持该请求方法")
    } else if text.starts_with("Invalid URL") {
        AppError::not_found("未找到：路径中的编号无效")
    } else if text.contains("query string") {
        // "Failed to deserialize query string: page: invalid digit found in string"
        let field = text
            .split_once("query string: ")
            .and_then(|(_, rest)| rest.split_once(':'))
            .map(|(f, _)| f.trim().to_owned())
            .filter(|f| !f.is_empty() && !f.contains(' '))
            .unwrap_or_else(|| "query".to_owned());
        AppError::invalid(&field, format!("查询参数 {field} 无效"))
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(status, "payload_too_large", "提交的内容过大")
    } else {
        AppError::new(status, "bad_request", "请求无法处理")
    };
    err.into_response()
}
