//! A JSON extractor whose rejections are api.md errors in Chinese that name the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::AppError;

pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(e) => Err(rejection(e)),
        }
    }
}

fn rejection(e: JsonRejection) -> AppError {
    match e {
        JsonRejection::JsonDataError(e) => {
            // "missing field `x`" / "unknown variant" / "invalid type ... at line": keep the path.
            let detail = e.body_text();
            let field = detail
                .split_once(": ")
                .map(|(path, _)| {
                    path.trim_start_matches(
                        "Failed to deserialize the JSON body into the target type",
                    )
                    .trim()
                    .to_owned()
                })
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| field_from_message(&detail));
            let message = format!("请求数据不符合要求（字段 {field}）：{}", translate(&detail));
            AppError {
                field: Some(field),
                ..AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    message,
                )
            }
        }
        JsonRejection::JsonSyntaxError(_) => AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "请求体不是合法的 JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求须使用 Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(_) => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "请求体过大",
        ),
        other => AppError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("请求无法处理：{other}"),
        ),
    }
}

fn field_from_message(detail: &str) -> String {
    detail
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| "body".into())
}

fn translate(detail: &str) -> String {
    if detail.contains("missing field") {
        format!("缺少必填字段 {}", field_from_message(detail))
    } else if detail.contains("invalid type") {
        "字段类型不正确".into()
    } else if detail.contains("unknown variant") {
        "取值不在允许范围内".into()
    } else {
        "格式不正确".into()
    }
}
