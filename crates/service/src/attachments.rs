//! Attached files: checked by their content (not their name), size-limited, stored once under
//! the data directory by their SHA-256, and recorded with the operation log.

use chrono::{DateTime, Utc};
use liandong_store::{Actor, Attachment, Scope};
use sha2::{Digest, Sha256};

use crate::error::{Result, ServiceError};
use crate::App;

/// Largest attachment accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// The content type of an accepted file, judged by its first bytes and, for the zip-based
/// Office formats, its name.
pub fn sniff(bytes: &[u8], file_name: &str) -> Option<&'static str> {
    let lower = file_name.to_lowercase();
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"PK\x03\x04") && lower.ends_with(".docx") {
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    } else if bytes.starts_with(b"PK\x03\x04") && lower.ends_with(".xlsx") {
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    } else {
        None
    }
}

/// A file name safe to keep and to send back: no path, no control characters, bounded.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(100)
        .collect();
    if cleaned.trim().is_empty() {
        "附件".into()
    } else {
        cleaned.trim().to_owned()
    }
}

impl App {
    /// Attaches a file to a score event of a quarter that is not locked.
    pub async fn attach_to_event(
        &self,
        actor: &Actor,
        event_id: i64,
        file_name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Attachment> {
        let event = self.store.score_event(event_id).await?;
        self.store_file(
            actor,
            &format!("score_event:{event_id}"),
            Some(event.month.quarter()),
            file_name,
            bytes,
            now,
        )
        .await
    }

    pub(crate) async fn store_file(
        &self,
        actor: &Actor,
        owner: &str,
        quarter: Option<liandong_domain::Quarter>,
        file_name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Attachment> {
        if bytes.is_empty() {
            return Err(ServiceError::invalid("file", "附件为空"));
        }
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(ServiceError::invalid(
                "file",
                format!("附件不能超过 {} MB", MAX_ATTACHMENT_BYTES / 1024 / 1024),
            ));
        }
        let name = clean_name(file_name);
        let content_type = sniff(bytes, &name).ok_or_else(|| {
            ServiceError::invalid(
                "file",
                "附件只能是 PDF、图片（JPG、PNG、WebP）、Word（.docx）或 Excel（.xlsx）文件",
            )
        })?;
        let sha = hex::encode(Sha256::digest(bytes));
        let dir = self.store.attachments_dir();
        let path = dir.join(&sha);
        if !path.exists() {
            // Written aside and renamed, so a half-written file is never served.
            let tmp = dir.join(format!("{sha}.part"));
            let data = bytes.to_vec();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::create_dir_all(tmp.parent().unwrap_or(std::path::Path::new(".")))?;
                std::fs::write(&tmp, &data)?;
                std::fs::rename(&tmp, &path)
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(|e| ServiceError::Internal(format!("无法保存附件：{e}")))?;
        }
        let record = Attachment {
            id: 0,
            owner: owner.to_owned(),
            file_name: name,
            content_type: content_type.to_owned(),
            size: bytes.len() as i64,
            sha256: sha,
            uploaded_by: actor.username.clone(),
            uploaded_at: now.timestamp(),
        };
        Ok(self
            .store
            .add_attachment(actor, now.timestamp(), &record, quarter)
            .await?)
    }

    /// An attachment and its bytes, if the user may see what it belongs to.
    pub async fn read_attachment(&self, scope: &Scope, id: i64) -> Result<(Attachment, Vec<u8>)> {
        let a = self.store.attachment(id).await?;
        if !self.may_read_owner(scope, &a.owner).await? {
            return Err(ServiceError::NotFound("未找到该附件".into()));
        }
        let path = self.store.attachments_dir().join(&a.sha256);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| ServiceError::Internal(format!("附件文件缺失：{e}")))?;
        Ok((a, bytes))
    }
}

impl App {
    /// Whether a record owning attachments is inside `scope` (a thumbnail follows its photo).
    async fn may_read_owner(&self, scope: &Scope, owner: &str) -> Result<bool> {
        let mut owner = owner.to_owned();
        for _ in 0..2 {
            let Some((kind, id)) = owner.split_once(':') else {
                return Ok(false);
            };
            let Ok(id) = id.parse::<i64>() else {
                return Ok(false);
            };
            let unit = match kind {
                "score_event" => self.store.score_event(id).await.map(|e| e.department_id),
                "problem" => self.store.problem(id).await.map(|p| p.department_id),
                "monthly_report" => self.store.monthly_report(id).await.map(|r| r.department_id),
                // Policies are shared with every user of the platform.
                "policy" => return Ok(self.store.policy(id).await.is_ok()),
                "thumb" => {
                    owner = self.store.attachment(id).await?.owner;
                    continue;
                }
                _ => return Ok(false),
            };
            return Ok(unit.is_ok_and(|u| scope.allows(u)));
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_judged_by_content() {
        assert_eq!(sniff(b"%PDF-1.7 ...", "x.pdf"), Some("application/pdf"));
        assert_eq!(
            sniff(b"%PDF-1.7 ...", "renamed.jpg"),
            Some("application/pdf")
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "photo"),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff(b"MZ\x90\x00", "invoice.pdf"),
            None,
            "an executable named .pdf is refused"
        );
        assert_eq!(sniff(b"PK\x03\x04....", "a.zip"), None);
        assert_eq!(
            sniff(b"PK\x03\x04....", "报告.docx").map(|t| t.contains("word")),
            Some(true)
        );
        assert_eq!(sniff(b"<html>", "a.html"), None);
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\报告\\整改\"说明\".pdf"), "整改说明.pdf");
        assert_eq!(clean_name("\u{0}\n"), "附件");
    }
}
