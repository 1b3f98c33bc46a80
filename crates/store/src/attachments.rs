//! Records of attached files. The bytes are kept by the service under the data directory.

use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;

use crate::audit::append;
use crate::{get, Actor, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: i64,
    /// What it belongs to, e.g. `score_event:12`.
    pub owner: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

fn row(r: &AnyRow) -> Result<Attachment> {
    Ok(Attachment {
        id: get(r, "id")?,
        owner: get(r, "owner")?,
        file_name: get(r, "file_name")?,
        content_type: get(r, "content_type")?,
        size: get(r, "size")?,
        sha256: get(r, "sha256")?,
        uploaded_by: get(r, "uploaded_by")?,
        uploaded_at: get(r, "uploaded_at")?,
    })
}

impl Store {
    /// The folder attached files are kept in, beside the database.
    pub fn attachments_dir(&self) -> std::path::PathBuf {
        self.path()
            .parent()
            .map(|p| p.join("attachments"))
            .unwrap_or_else(|| "attachments".into())
    }

    /// Records an attachment; when it is evidence of a quarter's record, refused once that
    /// quarter is submitted or locked (checked in the same transaction).
    pub async fn add_attachment(
        &self,
        actor: &Actor,
        at: i64,
        a: &Attachment,
        quarter: Option<liandong_domain::Quarter>,
    ) -> Result<Attachment> {
        let mut tx = self.write.begin().await?;
        if let Some(q) = quarter {
            if let Some(state) = crate::scoring::frozen(&mut tx, q).await? {
                return Err(StoreError::Locked(Box::new(state)));
            }
        }
        let r = sqlx::query(
            "INSERT INTO attachment (owner, file_name, content_type, size, sha256, uploaded_by, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&a.owner)
        .bind(&a.file_name)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        append(
            &mut tx,
            actor,
            at,
            "attachment.add",
            &a.owner,
            None,
            Some(&json!({"id": id, "file_name": a.file_name, "size": a.size, "sha256": a.sha256})),
        )
        .await?;
        tx.commit().await?;
        self.attachment(id).await
    }

    pub async fn attachment(&self, id: i64) -> Result<Attachment> {
        let r = sqlx::query("SELECT * FROM attachment WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("该附件"))?;
        row(&r)
    }

    /// Attachments of the given owners (e.g. every event of a page), oldest first.
    pub async fn attachments_of(&self, owners: &[String]) -> Result<Vec<Attachment>> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        // Owners are built by the platform ("kind:id"), never taken from a request.
        let list: Vec<String> = owners
            .iter()
            .filter(|o| {
                o.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
            })
            .map(|o| format!("'{o}'"))
            .collect();
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT * FROM attachment WHERE owner IN ({}) ORDER BY id",
            list.join(", ")
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(row).collect()
    }
}
