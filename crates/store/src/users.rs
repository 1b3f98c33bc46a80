//! User accounts and their units.

use liandong_domain::Role;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::registry::Unit;
use crate::{conflict, flag, get, Actor, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Never serialised: it must not reach the audit log or an API answer.
    #[serde(skip)]
    pub password_hash: String,
    pub password_changed_at: i64,
    pub must_change_password: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub units: Vec<Unit>,
}

impl User {
    pub fn unit_ids(&self) -> Vec<i64> {
        self.units.iter().map(|u| u.id).collect()
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub units: Vec<i64>,
}

/// What an administrator changes on an account; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub units: Option<Vec<i64>>,
    pub disabled: Option<bool>,
}

async fn load_units(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<Unit>> {
    let rows = sqlx::query(
        "SELECT u.id, u.kind, u.name FROM user_unit uu JOIN unit u ON u.id = uu.unit_id
         WHERE uu.user_id = $1 ORDER BY u.kind, u.sort_order, u.id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(crate::registry::unit_row).collect()
}

fn user_row(r: &AnyRow, units: Vec<Unit>) -> Result<User> {
    let role: String = get(r, "role")?;
    Ok(User {
        id: get(r, "id")?,
        username: get(r, "username")?,
        display_name: get(r, "display_name")?,
        role: role
            .parse()
            .map_err(|_| StoreError::Invalid(format!("role {role}")))?,
        password_hash: get(r, "password_hash")?,
        password_changed_at: get(r, "password_changed_at")?,
        must_change_password: flag(r, "must_change_password")?,
        disabled: flag(r, "disabled")?,
        created_at: get(r, "created_at")?,
        units,
    })
}

async fn fetch_user(conn: &mut AnyConnection, id: i64) -> Result<User> {
    let row = sqlx::query("SELECT * FROM app_user WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("该用户"))?;
    let units = load_units(conn, id).await?;
    user_row(&row, units)
}

async fn set_units(conn: &mut AnyConnection, user_id: i64, units: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM user_unit WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for unit in units {
        sqlx::query(
            "INSERT INTO user_unit (user_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(unit)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM app_user")
            .fetch_one(&self.read)
            .await?;
        get(&row, "n")
    }

    pub async fn create_user(&self, actor: &Actor, at: i64, new: &NewUser) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "INSERT INTO app_user (username, display_name, role, password_hash, password_changed_at, must_change_password, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $5) RETURNING id",
        )
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(new.role.code())
        .bind(&new.password_hash)
        .bind(at)
        .bind(i64::from(new.must_change_password))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, format!("用户名“{}”已被使用", new.username)))?;
        let id: i64 = get(&row, "id")?;
        set_units(&mut tx, id, &new.units).await?;
        let user = fetch_user(&mut tx, id).await?;
        append(
            &mut tx,
            actor,
            at,
            "user.create",
            &format!("user:{id}"),
            None,
            Some(&json!(user)),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        let mut conn = self.read.acquire().await?;
        fetch_user(&mut conn, id).await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query("SELECT id FROM app_user WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(r) => Ok(Some(fetch_user(&mut conn, get(&r, "id")?).await?)),
            None => Ok(None),
        }
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let mut conn = self.read.acquire().await?;
        let rows = sqlx::query("SELECT * FROM app_user ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let units = load_units(&mut conn, get(r, "id")?).await?;
            out.push(user_row(r, units)?);
        }
        Ok(out)
    }

    /// Changes an account; disabling it ends all its sessions in the same transaction.
    pub async fn update_user(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        changes: &UserChanges,
    ) -> Result<User> {
        let mut tx = self.write.begin().await?;
        let before = fetch_user(&mut tx, id).await?;
        if let Some(name) = &changes.display_name {
            sqlx::query("UPDATE app_user SET display_name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(role) = changes.role {
            sqlx::query("UPDATE app_user SET role = $1 WHERE id = $2")
                .bind(role.code())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(units) = &changes.units {
            set_units(&mut tx, id, units).await?;
        }
        if let Some(disabled) = changes.disabled {
            sqlx::query("UPDATE app_user SET disabled = $1 WHERE id = $2")
                .bind(i64::from(disabled))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query("DELETE FROM session WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let after = fetch_user(&mut tx, id).await?;
        append(
            &mut tx,
            actor,
            at,
            "user.update",
            &format!("user:{id}"),
            Some(&json!(before)),
            Some(&json!(after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Sets a new password hash. Every session of the user except `keep_session` (the one
    /// that changed it) ends.
    pub async fn set_password(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let n = sqlx::query(
            "UPDATE app_user SET password_hash = $1, password_changed_at = $2, must_change_password = $3 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(at)
        .bind(i64::from(must_change))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("该用户"));
        }
        sqlx::query("DELETE FROM session WHERE user_id = $1 AND token_hash <> $2")
            .bind(id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        let action = if actor.user_id == Some(id) {
            "user.password_change"
        } else {
            "user.password_reset"
        };
        append(
            &mut tx,
            actor,
            at,
            action,
            &format!("user:{id}"),
            None,
            Some(&json!({"must_change_password": must_change})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
