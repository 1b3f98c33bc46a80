//! Storage of shared policies (政策共享) and their search terms.

use chrono::NaiveDate;
use liandong_domain::roster::search_terms;
use liandong_domain::scoring::Level;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::audit::append;
use crate::{get, Actor, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub id: i64,
    pub department_id: i64,
    pub department: String,
    pub level: Level,
    /// 发文机关
    pub issuer: String,
    /// 文号
    pub doc_no: String,
    pub issued_on: NaiveDate,
    pub title: String,
    pub summary: String,
    /// The county's follow-up (本县落实情况).
    pub follow_up: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub department_id: i64,
    pub level: Level,
    pub issuer: String,
    pub doc_no: String,
    pub issued_on: NaiveDate,
    pub title: String,
    pub summary: String,
    pub follow_up: String,
}

fn policy_row(r: &AnyRow) -> Result<Policy> {
    let level: String = get(r, "level")?;
    let issued: String = get(r, "issued_on")?;
    Ok(Policy {
        id: get(r, "id")?,
        department_id: get(r, "department_id")?,
        department: get(r, "department")?,
        level: Level::from_code(&level).ok_or_else(|| StoreError::Invalid(level.clone()))?,
        issuer: get(r, "issuer")?,
        doc_no: get(r, "doc_no")?,
        issued_on: issued
            .parse()
            .map_err(|_| StoreError::Invalid(issued.clone()))?,
        title: get(r, "title")?,
        summary: get(r, "summary")?,
        follow_up: get(r, "follow_up")?,
        created_by: get(r, "created_by")?,
        created_at: get(r, "created_at")?,
        updated_at: get(r, "updated_at")?,
    })
}

const POLICY_SELECT: &str =
    "SELECT p.*, u.name AS department FROM policy p JOIN unit u ON u.id = p.department_id";

async fn index(conn: &mut AnyConnection, p: &Policy) -> Result<()> {
    sqlx::query("DELETE FROM policy_term WHERE policy_id = $1")
        .bind(p.id)
        .execute(&mut *conn)
        .await?;
    let text = format!(
        "{} {} {} {} {} {}",
        p.title, p.issuer, p.doc_no, p.summary, p.follow_up, p.department
    );
    for t in search_terms(&text) {
        sqlx::query(
            "INSERT INTO policy_term (term, policy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(t)
        .bind(p.id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn policy_in(conn: &mut AnyConnection, id: i64) -> Result<Policy> {
    let r = sqlx::query(&format!("{POLICY_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("该政策"))?;
    policy_row(&r)
}

/// Which policies to list.
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    /// Words to find, all of them (Chinese or Latin).
    pub text: Option<String>,
    pub department_id: Option<i64>,
    /// Posted within [from, to) (Unix seconds), for a month's update list.
    pub posted: Option<(i64, i64)>,
    pub limit: i64,
}

impl Store {
    pub async fn create_policy(&self, actor: &Actor, at: i64, p: &NewPolicy) -> Result<Policy> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query(
            "INSERT INTO policy (department_id, level, issuer, doc_no, issued_on, title, summary, follow_up, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(p.department_id)
        .bind(p.level.code())
        .bind(&p.issuer)
        .bind(&p.doc_no)
        .bind(p.issued_on.to_string())
        .bind(&p.title)
        .bind(&p.summary)
        .bind(&p.follow_up)
        .bind(&actor.username)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = get(&r, "id")?;
        let stored = policy_in(&mut tx, id).await?;
        index(&mut tx, &stored).await?;
        append(
            &mut tx,
            actor,
            at,
            "policy.create",
            &format!("policy:{id}"),
            None,
            Some(&json!(stored)),
        )
        .await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Records the county's follow-up of a policy.
    pub async fn set_follow_up(
        &self,
        actor: &Actor,
        at: i64,
        id: i64,
        follow_up: &str,
    ) -> Result<Policy> {
        let mut tx = self.write.begin().await?;
        let before = policy_in(&mut tx, id).await?;
        sqlx::query("UPDATE policy SET follow_up = $1, updated_at = $2 WHERE id = $3")
            .bind(follow_up)
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let after = policy_in(&mut tx, id).await?;
        index(&mut tx, &after).await?;
        append(
            &mut tx,
            actor,
            at,
            "policy.follow_up",
            &format!("policy:{id}"),
            Some(&json!({"follow_up": before.follow_up})),
            Some(&json!({"follow_up": follow_up})),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn policy(&self, id: i64) -> Result<Policy> {
        let mut conn = self.read.acquire().await?;
        policy_in(&mut conn, id).await
    }

    /// Policies matching every word of the search, newest first.
    pub async fn policies(&self, f: &PolicyFilter) -> Result<Vec<Policy>> {
        let terms = f.text.as_deref().map(search_terms).unwrap_or_default();
        let (from, to) = f.posted.unwrap_or((i64::MIN, i64::MAX));
        let mut sql = format!(
            "{POLICY_SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR p.department_id = $1) AND p.created_at >= $2 AND p.created_at < $3"
        );
        if !terms.is_empty() {
            let marks: Vec<String> = (0..terms.len()).map(|i| format!("${}", i + 5)).collect();
            sql.push_str(&format!(
                " AND p.id IN (SELECT policy_id FROM policy_term WHERE term IN ({}) GROUP BY policy_id HAVING COUNT(*) = {})",
                marks.join(", "),
                terms.len()
            ));
        }
        sql.push_str(" ORDER BY p.issued_on DESC, p.id DESC LIMIT $4");
        let mut q = sqlx::query(&sql)
            .bind(f.department_id)
            .bind(from)
            .bind(to)
            .bind(if f.limit > 0 { f.limit } else { 200 });
        for t in &terms {
            q = q.bind(t);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(policy_row).collect()
    }
}
