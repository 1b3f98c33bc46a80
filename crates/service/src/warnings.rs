//! Early warnings (信息预警) as use cases: pushing one (from a page, or from another system
//! through the API), routing it to the household's township and the departments whose duties
//! cover its risk type, broadcasting it at once to connected browsers, signing for it, the
//! township's verification, the office's closing (assistance or dismissal), the proposal of
//! `warning.verified`, and forwarding to WeCom / DingTalk group robots.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use liandong_domain::roster::{default_routing, MonitoringStage, RiskType, WarningStatus};
use liandong_domain::scoring::RuleCode;
use liandong_domain::{Month, Role, UnitKind};
use liandong_store::{Actor, NewScoreEvent, NewWarning, Warning};
use tokio::sync::broadcast;

use crate::error::{Result, ServiceError};
use crate::monthly::required;
use crate::{App, Principal};

/// What connected browsers are told of a new warning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub id: i64,
    /// Units that must act on it: its township and the routed departments.
    #[serde(skip)]
    pub units: Vec<i64>,
    pub title: String,
    pub url: String,
    /// When it was pushed, in milliseconds since the epoch (for delay measurements).
    pub at_ms: i64,
    /// This notice as a whole server-sent event (`event: warning`, its JSON as the data),
    /// encoded once and shared, not copied, by every stream that receives it.
    #[serde(skip)]
    pub event: bytes::Bytes,
}

/// The broadcast of new warnings to every open event stream.
#[derive(Debug, Clone)]
pub struct WarningHub {
    tx: broadcast::Sender<Arc<Notice>>,
}

impl Default for WarningHub {
    fn default() -> Self {
        WarningHub {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl WarningHub {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Notice>> {
        self.tx.subscribe()
    }
    pub fn streams(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Whom a warning is about, as the pusher identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Household(i64),
    /// A person by ID number (normalised here; found through the keyed hash).
    IdNumber(String),
    /// Someone not on the roster, in a township.
    Township(i64),
}

#[derive(Debug, Clone)]
pub struct WarningInput {
    pub subject: Subject,
    pub risk_type: RiskType,
    pub summary: String,
    pub occurred_on: NaiveDate,
    pub evidence: String,
}

impl App {
    /// Fills the routing table from the duty lists once.
    pub async fn seed_warning_routes(&self, now: DateTime<Utc>) -> Result<()> {
        if !self.store.warning_routes().await?.is_empty() {
            return Ok(());
        }
        let deps = self.store.departments().await?;
        let mut routes = Vec::new();
        for r in RiskType::ALL {
            for code in default_routing(*r) {
                if let Some(d) = deps.iter().find(|d| d.code == *code) {
                    routes.push((*r, d.id));
                }
            }
        }
        self.store
            .set_warning_routes(&Actor::system("seed"), now.timestamp(), &routes)
            .await?;
        Ok(())
    }

    /// Pushes a warning: `raised_by` is the department pushing it (None for another system).
    pub async fn push_warning(
        &self,
        actor: &Actor,
        raised_by: Option<i64>,
        source: &str,
        input: WarningInput,
        now: DateTime<Utc>,
    ) -> Result<Warning> {
        let summary = required("summary", "预警内容", &input.summary, 1000)?;
        let evidence = crate::monthly::optional("evidence", "依据", &input.evidence, 2000)?;
        let today = liandong_domain::deadline::county_date(now);
        if input.occurred_on > today {
            return Err(ServiceError::invalid("occurred_on", "发生日期不能晚于今天"));
        }
        let (household, person, township) = match &input.subject {
            Subject::Household(id) => {
                let h = self.store.household(*id).await.map_err(|_| {
                    ServiceError::invalid("household_id", format!("农户 {id} 不存在"))
                })?;
                (Some(h.id), None, h.record.township_id)
            }
            Subject::IdNumber(raw) => {
                let p = self.find_person(raw).await?.ok_or_else(|| {
                    ServiceError::invalid(
                        "id_number",
                        "名单中没有此身份证号；不在名单中的人员请填写所在乡镇",
                    )
                })?;
                let h = self.store.household(p.household_id).await?;
                (Some(h.id), Some(p.id), h.record.township_id)
            }
            Subject::Township(t) => {
                let town = self.store.township(*t).await.map_err(|_| {
                    ServiceError::invalid("township_id", format!("乡镇 {t} 不存在"))
                })?;
                (None, None, town.id)
            }
        };
        let mut receivers = vec![township];
        for (risk, dept) in self.store.warning_routes().await? {
            if risk == input.risk_type && Some(dept) != raised_by && !receivers.contains(&dept) {
                receivers.push(dept);
            }
        }
        let w = NewWarning {
            household_id: household,
            person_id: person,
            township_id: township,
            risk_type: input.risk_type,
            summary,
            occurred_on: input.occurred_on,
            evidence,
            raised_by_unit: raised_by,
            source: source.to_owned(),
            sign_due: (now + Duration::hours(self.settings.warning_sign_hours)).timestamp(),
            verify_due: (now + Duration::hours(self.settings.warning_verify_hours)).timestamp(),
            receivers: receivers.clone(),
        };
        let stored = self
            .store
            .create_warning(actor, now.timestamp(), &w)
            .await?;
        let mut notice = Notice {
            id: stored.id,
            units: receivers,
            title: format!(
                "{}预警：{}{}",
                stored.risk_type.label(),
                stored.township,
                stored
                    .household_no
                    .as_deref()
                    .map(|n| format!(" {n} 户"))
                    .unwrap_or_default()
            ),
            url: format!("/warnings/{}", stored.id),
            at_ms: now.timestamp_millis(),
            event: bytes::Bytes::new(),
        };
        // Compact JSON holds no line break, so it is one `data:` line.
        let json = serde_json::to_string(&notice).unwrap_or_default();
        notice.event = format!("event: warning\ndata: {json}\n\n").into();
        self.forward(&notice, &stored);
        let _ = self.warnings.tx.send(Arc::new(notice));
        Ok(stored)
    }

    /// Sends the warning to the configured group robots, in the background: a robot that is
    /// down never holds up or fails the push.
    fn forward(&self, notice: &Notice, w: &Warning) {
        let text = format!(
            "【“5+2”联动预警】{}\n发生日期：{}\n情况：{}\n请接收单位在 {} 小时内登录平台签收。",
            notice.title, w.occurred_on, w.summary, self.settings.warning_sign_hours
        );
        // Both robots take {"msgtype": "text", "text": {"content": ...}}.
        let body = serde_json::json!({"msgtype": "text", "text": {"content": text}});
        for url in [
            &self.settings.wecom_webhook,
            &self.settings.dingtalk_webhook,
        ]
        .into_iter()
        .flatten()
        {
            let url = url.clone();
            let body = body.clone();
            let client = self.http.clone();
            tokio::spawn(async move {
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(status = %r.status(), "group robot refused a warning"),
                    Err(e) => tracing::warn!(error = %e, "group robot unreachable"),
                }
            });
        }
    }

    /// A warning the user may see: the office and other all-seeing roles, or a unit it
    /// concerns.
    pub async fn warning_for(&self, p: &Principal, id: i64) -> Result<Warning> {
        let w = self.store.warning(id).await?;
        if p.user.role.sees_all() {
            return Ok(w);
        }
        let mine = p.user.unit_ids();
        let receipts = self.store.receipts(id).await?;
        let concerned = mine.contains(&w.township_id)
            || w.raised_by_unit.is_some_and(|u| mine.contains(&u))
            || receipts.iter().any(|r| mine.contains(&r.unit_id));
        if concerned {
            Ok(w)
        } else {
            Err(ServiceError::NotFound("未找到该预警".into()))
        }
    }

    /// The user's unit signs for the warning (签收).
    pub async fn sign_warning(&self, p: &Principal, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.warning_for(p, id).await?;
        let receipts = self.store.receipts(id).await?;
        let mine = p.user.unit_ids();
        let unit = receipts
            .iter()
            .find(|r| r.signed_at.is_none() && mine.contains(&r.unit_id))
            .map(|r| r.unit_id)
            .ok_or_else(|| ServiceError::Conflict("您的单位不需签收此预警，或已签收".into()))?;
        Ok(self
            .store
            .sign_warning(&p.actor(), now.timestamp(), id, unit)
            .await?)
    }

    /// The household's township verifies the warning (核实).
    pub async fn verify_warning(
        &self,
        p: &Principal,
        id: i64,
        found_true: bool,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Warning> {
        let w = self.warning_for(p, id).await?;
        let is_township =
            p.user.role == Role::Township && p.user.unit_ids().contains(&w.township_id);
        if !(is_township || p.user.role.is_office()) {
            return Err(ServiceError::Forbidden("预警由所在乡镇核实".into()));
        }
        let note = required("note", "核实情况", note, 2000)?;
        Ok(self
            .store
            .verify_warning(&p.actor(), now.timestamp(), id, found_true, &note)
            .await?)
    }

    /// The office ends a verified warning: assistance (the household enters or stays in
    /// monitoring, and the raising department's `warning.verified` is proposed) or dismissal.
    pub async fn close_warning(
        &self,
        p: &Principal,
        id: i64,
        assisted: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Warning> {
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden("预警由联动办公室确认办结".into()));
        }
        let w = self.store.warning(id).await?;
        if w.status != WarningStatus::Verified {
            return Err(ServiceError::Conflict(
                "只有乡镇核实属实、尚未办结的预警才能办结".into(),
            ));
        }
        let reason = required("reason", "办结说明", reason, 2000)?;
        let month = Month::of(liandong_domain::deadline::county_date(now));
        let proposal = match (assisted, w.raised_by_unit) {
            (true, Some(dept)) => {
                let d = self.store.department(dept).await?;
                let version = self.rule_version_on(month.last_day()).await?;
                let points = version
                    .table
                    .score(RuleCode::WarningVerified, None, 1, d.category)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                Some(NewScoreEvent {
                    department_id: dept,
                    month,
                    rule: RuleCode::WarningVerified,
                    level: None,
                    count: 1,
                    points,
                    rule_version_id: version.id,
                    note: format!("预警第 {id} 号经乡镇核实、联动办公室确认属实"),
                    doc_no: None,
                    occurred_on: None,
                })
            }
            _ => None,
        };
        let closed = self
            .store
            .close_warning(
                &p.actor(),
                now.timestamp(),
                id,
                assisted,
                &reason,
                proposal.as_ref(),
            )
            .await?;
        if let (true, Some(h)) = (assisted, w.household_id) {
            let household = self.store.household(h).await?;
            if household
                .record
                .stage
                .can_move_to(MonitoringStage::Identified)
            {
                self.store
                    .set_stage(
                        &p.actor(),
                        now.timestamp(),
                        h,
                        MonitoringStage::Identified,
                        liandong_domain::deadline::county_date(now),
                        &format!("预警第 {id} 号核实属实，纳入监测"),
                    )
                    .await?;
            }
        }
        Ok(closed)
    }

    /// Warnings the user sees, newest first.
    pub async fn warnings_for(&self, p: &Principal, limit: i64) -> Result<Vec<Warning>> {
        if p.user.role.sees_all() {
            Ok(self.store.warnings(None, limit).await?)
        } else {
            Ok(self.store.warnings(Some(&p.user.unit_ids()), limit).await?)
        }
    }

    /// Whether a notice is for this user: all-seeing roles get every one, units their own.
    pub fn notice_is_for(p: &Principal, n: &Notice) -> bool {
        p.user.role.sees_all() || p.user.units.iter().any(|u| n.units.contains(&u.id))
    }

    /// The department a department user pushes as (its first unit).
    pub fn pushing_department(p: &Principal) -> Option<i64> {
        p.user
            .units
            .iter()
            .find(|u| u.kind == UnitKind::Department)
            .map(|u| u.id)
    }
}
