//! Policy sharing (政策共享): departments post the policies that concern the linkage
//! mechanism, with the county's follow-up, searchable in Chinese and listed month by month.

use chrono::{DateTime, NaiveDate, Utc};
use liandong_domain::scoring::Level;
use liandong_domain::Month;
use liandong_store::{Attachment, NewPolicy, Policy, PolicyFilter};

use crate::error::{Result, ServiceError};
use crate::monthly::{optional, required};
use crate::{App, Principal};

/// A policy as entered in a form or an API call.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub department_id: i64,
    pub level: Level,
    pub issuer: String,
    pub doc_no: String,
    pub issued_on: NaiveDate,
    pub title: String,
    pub summary: String,
    pub follow_up: String,
}

impl App {
    /// Posts a policy for a department of the user's (the office for any).
    pub async fn post_policy(
        &self,
        p: &Principal,
        i: PolicyInput,
        now: DateTime<Utc>,
    ) -> Result<Policy> {
        let dept = self.store.department(i.department_id).await.map_err(|_| {
            ServiceError::invalid("department_id", format!("部门 {} 不存在", i.department_id))
        })?;
        if !(p.user.role.is_office() || p.write_scope().allows(dept.id)) {
            return Err(ServiceError::Forbidden("只能以本单位名义发布政策".into()));
        }
        if i.issued_on > liandong_domain::deadline::county_date(now) {
            return Err(ServiceError::invalid("issued_on", "发文日期不能晚于今天"));
        }
        let policy = NewPolicy {
            department_id: dept.id,
            level: i.level,
            issuer: required("issuer", "发文机关", &i.issuer, 100)?,
            doc_no: optional("doc_no", "文号", &i.doc_no, 100)?,
            issued_on: i.issued_on,
            title: required("title", "标题", &i.title, 200)?,
            summary: required("summary", "主要内容", &i.summary, 5000)?,
            follow_up: optional("follow_up", "本县落实情况", &i.follow_up, 5000)?,
        };
        Ok(self
            .store
            .create_policy(&p.actor(), now.timestamp(), &policy)
            .await?)
    }

    /// Records the county's follow-up: the posting department or the office.
    pub async fn follow_up_policy(
        &self,
        p: &Principal,
        id: i64,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Policy> {
        let policy = self.store.policy(id).await?;
        if !(p.user.role.is_office() || p.write_scope().allows(policy.department_id)) {
            return Err(ServiceError::Forbidden(
                "由发布单位或联动办公室填写落实情况".into(),
            ));
        }
        let text = required("follow_up", "本县落实情况", text, 5000)?;
        Ok(self
            .store
            .set_follow_up(&p.actor(), now.timestamp(), id, &text)
            .await?)
    }

    /// Attaches the policy document (PDF, Word, Excel or a photo).
    pub async fn attach_to_policy(
        &self,
        p: &Principal,
        id: i64,
        file_name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Attachment> {
        let policy = self.store.policy(id).await?;
        if !(p.user.role.is_office() || p.write_scope().allows(policy.department_id)) {
            return Err(ServiceError::Forbidden(
                "由发布单位或联动办公室上传附件".into(),
            ));
        }
        self.store_file(
            &p.actor(),
            &format!("policy:{id}"),
            None,
            file_name,
            bytes,
            now,
        )
        .await
    }

    /// The policies posted in `month`, by department (the monthly update list).
    pub async fn policy_updates(&self, month: Month) -> Result<Vec<(String, Vec<Policy>)>> {
        let start = |m: Month| {
            liandong_domain::deadline::from_county_time(
                m.first_day().and_hms_opt(0, 0, 0).unwrap_or_default(),
            )
            .timestamp()
        };
        let list = self
            .store
            .policies(&PolicyFilter {
                posted: Some((start(month), start(month.next()))),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        let mut out: Vec<(String, Vec<Policy>)> = Vec::new();
        for d in self.store.departments().await? {
            let mine: Vec<Policy> = list
                .iter()
                .filter(|p| p.department_id == d.id)
                .cloned()
                .collect();
            if !mine.is_empty() {
                out.push((d.name, mine));
            }
        }
        Ok(out)
    }
}
