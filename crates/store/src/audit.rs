//! Appending to and reading the operation log, and the login log.

use liandong_domain::audit::{entry_hash, AuditFields, ChainBreak, ChainVerifier};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::{get, Actor, Result, Store};

/// Appends one entry to the chain on the caller's transaction: if the change fails, so does
/// the entry, and the other way round.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    actor: &Actor,
    at: i64,
    action: &str,
    target: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<()> {
    // Updating the head first takes the write lock before the head is read.
    sqlx::query("UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let id: i64 = get(&head, "last_id")?;
    let prev: String = get(&head, "last_hash")?;
    let before = before.map(serde_json::Value::to_string);
    let after = after.map(serde_json::Value::to_string);
    let fields = AuditFields {
        id,
        at,
        actor: &actor.username,
        role: &actor.role,
        source: &actor.source,
        action,
        target,
        before: before.as_deref(),
        after: after.as_deref(),
    };
    let hash = entry_hash(&prev, &fields);
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, role, source, action, target, before_json, after_json, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(at)
    .bind(&actor.username)
    .bind(&actor.role)
    .bind(&actor.source)
    .bind(action)
    .bind(target)
    .bind(before.as_deref())
    .bind(after.as_deref())
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One operation-log entry as shown to office administrators and auditors.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub role: String,
    pub source: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// One sign-in attempt (登录日志).
#[derive(Debug, Clone, Serialize)]
pub struct LoginAttempt {
    pub id: i64,
    pub at: i64,
    pub username: String,
    pub source: String,
    pub user_agent: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Default)]
pub struct LoginFilter {
    pub username: Option<String>,
    pub outcome: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

fn entry(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: get(row, "id")?,
        at: get(row, "at")?,
        actor: get(row, "actor")?,
        role: get(row, "role")?,
        source: get(row, "source")?,
        action: get(row, "action")?,
        target: get(row, "target")?,
        before: get(row, "before_json")?,
        after: get(row, "after_json")?,
    })
}

impl Store {
    /// Entries newest first, with the total matching count.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<(Vec<AuditEntry>, i64)> {
        // Typed NULL tests keep the statement valid on PostgreSQL, which must infer each type.
        let cond = "(CAST($1 AS TEXT) IS NULL OR actor = $1) \
                    AND (CAST($2 AS TEXT) IS NULL OR action LIKE $2) \
                    AND (CAST($3 AS TEXT) IS NULL OR target LIKE $3) \
                    AND (CAST($4 AS BIGINT) IS NULL OR at >= $4) \
                    AND (CAST($5 AS BIGINT) IS NULL OR at < $5)";
        let like = |s: &Option<String>| s.as_ref().map(|s| format!("{s}%"));
        let total = sqlx::query(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE {cond}"))
            .bind(f.actor.as_deref())
            .bind(like(&f.action))
            .bind(like(&f.target))
            .bind(f.from)
            .bind(f.until)
            .fetch_one(&self.read)
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM audit_log WHERE {cond} ORDER BY id DESC LIMIT $6 OFFSET $7"
        ))
        .bind(f.actor.as_deref())
        .bind(like(&f.action))
        .bind(like(&f.target))
        .bind(f.from)
        .bind(f.until)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.read)
        .await?;
        Ok((
            rows.iter().map(entry).collect::<Result<_>>()?,
            get(&total, "n")?,
        ))
    }

    /// Walks the whole chain in id order; names the first bad entry.
    pub async fn verify_audit(&self) -> Result<Result<u64, ChainBreak>> {
        let mut verifier = ChainVerifier::default();
        let mut after = 0_i64;
        // One read transaction: one snapshot, so appends while the server runs cannot make the
        // walk and the head disagree.
        let mut tx = self.read.begin().await?;
        loop {
            let rows = sqlx::query(
                "SELECT id, at, actor, role, source, action, target, before_json, after_json, prev_hash, hash
                 FROM audit_log WHERE id > $1 ORDER BY id LIMIT 5000",
            )
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = get(last, "id")?;
            for row in &rows {
                let e = entry(row)?;
                let prev: String = get(row, "prev_hash")?;
                let hash: String = get(row, "hash")?;
                let fields = AuditFields {
                    id: e.id,
                    at: e.at,
                    actor: &e.actor,
                    role: &e.role,
                    source: &e.source,
                    action: &e.action,
                    target: &e.target,
                    before: e.before.as_deref(),
                    after: e.after.as_deref(),
                };
                if let Err(b) = verifier.feed(&fields, &prev, &hash) {
                    return Ok(Err(b));
                }
            }
        }
        let head = sqlx::query("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        tx.rollback().await?;
        let last_id: i64 = get(&head, "last_id")?;
        let last_hash: String = get(&head, "last_hash")?;
        Ok(verifier.finish(last_id, &last_hash))
    }

    /// Sign-in attempts newest first, with the total matching count.
    pub async fn login_attempts(&self, f: &LoginFilter) -> Result<(Vec<LoginAttempt>, i64)> {
        let cond = "(CAST($1 AS TEXT) IS NULL OR username = $1) \
                    AND (CAST($2 AS TEXT) IS NULL OR outcome = $2)";
        let total = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM login_attempt WHERE {cond}"
        ))
        .bind(f.username.as_deref())
        .bind(f.outcome.as_deref())
        .fetch_one(&self.read)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT * FROM login_attempt WHERE {cond} ORDER BY id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(f.username.as_deref())
        .bind(f.outcome.as_deref())
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.read)
        .await?;
        let list = rows
            .iter()
            .map(|r| {
                Ok(LoginAttempt {
                    id: get(r, "id")?,
                    at: get(r, "at")?,
                    username: get(r, "username")?,
                    source: get(r, "source")?,
                    user_agent: get(r, "user_agent")?,
                    outcome: get(r, "outcome")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((list, get(&total, "n")?))
    }

    /// Records a view or export of unmasked personal data (and any other read worth keeping)
    /// in the operation log.
    pub async fn audit_read(
        &self,
        actor: &Actor,
        at: i64,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        append(&mut tx, actor, at, action, target, None, Some(detail)).await?;
        tx.commit().await?;
        Ok(())
    }
}
