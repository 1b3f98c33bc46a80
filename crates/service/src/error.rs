use liandong_store::StoreError;

/// What can go wrong in a use case, in terms the web layer maps to api.md's status codes.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is invalid (422); the message names it.
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("请先登录")]
    Unauthenticated,
    #[error("用户名或密码错误")]
    BadCredentials,
    /// Too many failures; the same message whether or not the user exists (429).
    #[error("登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试")]
    TooManyAttempts { minutes: i64 },
    #[error("该账号已停用，请联系联动办公室")]
    AccountDisabled,
    #[error("请先修改初始密码或已过期的密码")]
    PasswordChangeRequired,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The period is approved and locked (409 `period_locked`).
    #[error("{0}")]
    Locked(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("内部错误：{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
        ServiceError::Validation {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(format!("未找到{what}")),
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            StoreError::OutOfScope => ServiceError::Forbidden("无权操作其他单位的数据".into()),
            e @ StoreError::Locked(_) => ServiceError::Locked(e.to_string()),
            other => ServiceError::Store(other),
        }
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
