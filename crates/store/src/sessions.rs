//! Sessions, the login log and account lockout.

use serde_json::json;

use crate::audit::append;
use crate::{get, Actor, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub source: String,
    pub user_agent: String,
}

/// How a sign-in attempt ended, as the login log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    BadPassword,
    UnknownUser,
    Locked,
    Disabled,
    /// Not an attempt: the user signed out.
    SignedOut,
}

impl LoginOutcome {
    pub fn code(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::BadPassword => "bad_password",
            LoginOutcome::UnknownUser => "unknown_user",
            LoginOutcome::Locked => "locked",
            LoginOutcome::Disabled => "disabled",
            LoginOutcome::SignedOut => "signed_out",
        }
    }
    pub fn label_of(code: &str) -> &'static str {
        match code {
            "success" => "成功",
            "bad_password" => "密码错误",
            "unknown_user" => "用户不存在",
            "locked" => "账号已锁定",
            "disabled" => "账号已停用",
            "signed_out" => "退出登录",
            _ => "其他",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockState {
    /// Unix seconds until which sign-in is refused, if locked now.
    pub locked_until: Option<i64>,
}

impl Store {
    pub async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO session (token_hash, user_id, csrf_token, created_at, last_seen_at, source, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(&s.source)
        .bind(&s.user_agent)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        let row = sqlx::query("SELECT * FROM session WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(SessionRecord {
                token_hash: get(&r, "token_hash")?,
                user_id: get(&r, "user_id")?,
                csrf_token: get(&r, "csrf_token")?,
                created_at: get(&r, "created_at")?,
                last_seen_at: get(&r, "last_seen_at")?,
                source: get(&r, "source")?,
                user_agent: get(&r, "user_agent")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, token_hash: &str, at: i64) -> Result<()> {
        sqlx::query("UPDATE session SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(at)
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM session WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Removes sessions idle since before `idle_before`.
    pub async fn purge_idle_sessions(&self, idle_before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM session WHERE last_seen_at < $1")
            .bind(idle_before)
            .execute(&self.write)
            .await?
            .rows_affected())
    }

    pub async fn record_login_attempt(
        &self,
        at: i64,
        username: &str,
        user_id: Option<i64>,
        source: &str,
        user_agent: &str,
        outcome: LoginOutcome,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_attempt (at, username, user_id, source, user_agent, outcome) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at)
        .bind(username)
        .bind(user_id)
        .bind(source)
        .bind(user_agent)
        .bind(outcome.code())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn lock_state(&self, username: &str, now: i64) -> Result<LockState> {
        let row = sqlx::query("SELECT locked_until FROM login_lock WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        let until = match row {
            Some(r) => Some(get::<i64>(&r, "locked_until")?),
            None => None,
        };
        Ok(LockState {
            locked_until: until.filter(|&u| u > now),
        })
    }

    /// After a failed attempt: counts failures for `username` within `window` seconds (and
    /// since the last reset) and locks the name for `lock_secs` when `threshold` is reached.
    /// Returns the lock's end if this failure locked it.
    pub async fn register_failure(
        &self,
        username: &str,
        now: i64,
        window: i64,
        threshold: i64,
        lock_secs: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.write.begin().await?;
        let reset_after: i64 =
            sqlx::query("SELECT reset_after_id FROM login_lock WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| get::<i64>(&r, "reset_after_id"))
                .transpose()?
                .unwrap_or(0);
        let n: i64 = get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM login_attempt
                 WHERE username = $1 AND at > $2 AND id > $3 AND outcome IN ('bad_password', 'unknown_user')",
            )
            .bind(username)
            .bind(now - window)
            .bind(reset_after)
            .fetch_one(&mut *tx)
            .await?,
            "n",
        )?;
        let locked = if n >= threshold {
            let until = now + lock_secs;
            sqlx::query(
                "INSERT INTO login_lock (username, locked_until, reset_after_id) VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM login_attempt))
                 ON CONFLICT (username) DO UPDATE SET locked_until = $2, reset_after_id = (SELECT COALESCE(MAX(id), 0) FROM login_attempt)",
            )
            .bind(username)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            Some(until)
        } else {
            None
        };
        tx.commit().await?;
        Ok(locked)
    }

    /// Clears failures counted so far (after a successful sign-in). Failures are counted by
    /// attempt id, not by second, so those in the same second as the reset stay cleared.
    pub async fn reset_failures(&self, username: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_lock (username, locked_until, reset_after_id) VALUES ($1, 0, (SELECT COALESCE(MAX(id), 0) FROM login_attempt))
             ON CONFLICT (username) DO UPDATE SET reset_after_id = (SELECT COALESCE(MAX(id), 0) FROM login_attempt)",
        )
        .bind(username)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Locks (until `until`) or unlocks (`until` = 0) a user name by an administrator's hand.
    pub async fn set_lock(&self, actor: &Actor, at: i64, username: &str, until: i64) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO login_lock (username, locked_until, reset_after_id) VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM login_attempt))
             ON CONFLICT (username) DO UPDATE SET locked_until = $2, reset_after_id = (SELECT COALESCE(MAX(id), 0) FROM login_attempt)",
        )
        .bind(username)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        if until > at {
            // A locked account must not keep working through open sessions.
            sqlx::query("DELETE FROM session WHERE user_id IN (SELECT id FROM app_user WHERE username = $1)")
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        let action = if until > at {
            "user.lock"
        } else {
            "user.unlock"
        };
        append(
            &mut tx,
            actor,
            at,
            action,
            &format!("username:{username}"),
            None,
            Some(&json!({"locked_until": until})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
