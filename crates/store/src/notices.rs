//! Notices (通知公告) from the linkage office, to all units or to chosen ones. A department or
//! township user reads only notices addressed to everyone or to one of its units.

use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;

use crate::audit::append;
use crate::registry::Unit;
use crate::{get, Actor, Result, Scope, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub published_at: i64,
    /// Empty: addressed to every unit.
    pub targets: Vec<Unit>,
    /// Whether the reading user has opened it.
    pub read: bool,
}

#[derive(Debug, Clone)]
pub struct NewNotice {
    pub title: String,
    pub body: String,
    pub targets: Vec<i64>,
}

impl Store {
    pub async fn create_notice(&self, actor: &Actor, at: i64, new: &NewNotice) -> Result<Notice> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query("INSERT INTO notice (title, body, author, published_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(&new.title)
            .bind(&new.body)
            .bind(&actor.username)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = get(&row, "id")?;
        for unit in &new.targets {
            sqlx::query("INSERT INTO notice_target (notice_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(unit)
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            actor,
            at,
            "notice.publish",
            &format!("notice:{id}"),
            None,
            Some(&json!({"title": new.title, "targets": new.targets})),
        )
        .await?;
        tx.commit().await?;
        self.notice(&Scope::All, actor.user_id.unwrap_or(0), id)
            .await
    }

    /// Notices visible in `scope`, newest first.
    pub async fn notices(&self, scope: &Scope, user_id: i64) -> Result<Vec<Notice>> {
        let rows = sqlx::query(&format!(
            "SELECT n.*, (SELECT COUNT(*) FROM notice_read r WHERE r.notice_id = n.id AND r.user_id = $1) AS seen
             FROM notice n WHERE {} ORDER BY n.published_at DESC, n.id DESC",
            visible(scope)
        ))
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.notice_row(r).await?);
        }
        Ok(out)
    }

    /// One notice; a notice outside the scope is "not found", so its existence is not revealed.
    pub async fn notice(&self, scope: &Scope, user_id: i64, id: i64) -> Result<Notice> {
        let row = sqlx::query(&format!(
            "SELECT n.*, (SELECT COUNT(*) FROM notice_read r WHERE r.notice_id = n.id AND r.user_id = $1) AS seen
             FROM notice n WHERE n.id = $2 AND {}",
            visible(scope)
        ))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound("该通知"))?;
        self.notice_row(&row).await
    }

    pub async fn mark_notice_read(&self, user_id: i64, id: i64, at: i64) -> Result<()> {
        sqlx::query("INSERT INTO notice_read (notice_id, user_id, read_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(user_id)
            .bind(at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn notice_row(&self, r: &AnyRow) -> Result<Notice> {
        let id: i64 = get(r, "id")?;
        let targets = sqlx::query(
            "SELECT u.id, u.kind, u.name FROM notice_target t JOIN unit u ON u.id = t.unit_id
             WHERE t.notice_id = $1 ORDER BY u.kind, u.sort_order",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(crate::registry::unit_row)
        .collect::<Result<_>>()?;
        Ok(Notice {
            id,
            title: get(r, "title")?,
            body: get(r, "body")?,
            author: get(r, "author")?,
            published_at: get(r, "published_at")?,
            targets,
            read: get::<i64>(r, "seen")? > 0,
        })
    }
}

fn visible(scope: &Scope) -> String {
    format!(
        "(NOT EXISTS (SELECT 1 FROM notice_target t WHERE t.notice_id = n.id)
          OR EXISTS (SELECT 1 FROM notice_target t WHERE t.notice_id = n.id AND {}))",
        scope.condition("t.unit_id")
    )
}
