//! Data comparison (信息比对) as use cases: departments deliver data sets (checked whole,
//! sealed on disk, entered in the feed ledger), the office runs the rule library over the
//! roster and the latest data with live progress, clues are stored (keyed hashes, no clear ID
//! numbers), routed like warnings, verified as true or false and handed off to warnings, and
//! the rows the fuzzy fallback could not settle wait in a review queue whose decisions later
//! runs remember.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use liandong_compare::engine::{Decided, ReviewItem};
use liandong_compare::output::{dataset_summary, failed_id_rows};
use liandong_compare::roster::RosterRow;
use liandong_compare::rules::{Finding, Severity};
use liandong_compare::{Clue, DataKind, Roster, RuleSet, Run};
use liandong_domain::monthly::FeedFact;
use liandong_domain::{IdKey, IdNumber, Month, Role};
use liandong_store::{
    ClueFilter, CompareRun, FeedDelivery, MatchReview, NewClue, NewFeedDelivery, NewReview, NewRun,
    RiskClue, RuleTally, RulesetVersion,
};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ServiceError};
use crate::warnings::{Subject, WarningInput};
use crate::{App, Principal};

/// Largest delivery accepted: a year of a county's claims is about 600 MB as .csv.
pub const FEED_MAX_BYTES: usize = 1024 * 1024 * 1024;

/// Where a comparison run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running,
    Done(i64),
    Failed(String),
}

/// A comparison run in the background: its phase, rules done of total, and outcome.
#[derive(Debug)]
pub struct CompareJob {
    pub user_id: i64,
    pub started: std::time::Instant,
    pub phase: Mutex<String>,
    pub done: AtomicUsize,
    pub total: AtomicUsize,
    pub state: Mutex<RunState>,
}

impl CompareJob {
    pub fn state(&self) -> RunState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(RunState::Failed("内部错误".into()))
    }
    pub fn phase(&self) -> String {
        self.phase.lock().map(|s| s.clone()).unwrap_or_default()
    }
    fn set_phase(&self, s: &str) {
        if let Ok(mut p) = self.phase.lock() {
            *p = s.to_owned();
        }
    }
}

pub type CompareJobs = Arc<Mutex<HashMap<String, Arc<CompareJob>>>>;

/// A delivery's outcome: stored, or the same files were delivered before (nothing written).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub delivery: FeedDelivery,
    pub duplicate: bool,
}

/// One kind's line in the feed ledger for a month: due when, delivered when, by whom.
#[derive(Debug, Clone)]
pub struct LedgerLine {
    pub kind: DataKind,
    pub department_id: i64,
    pub department: String,
    pub due: Option<NaiveDate>,
    pub delivered: Option<FeedDelivery>,
    /// `on_time`, `late`, `missing`, `not_due` (the deadline is still ahead), `not_started`
    /// (before the county's first delivery) or `none` (no deadline in the month).
    pub status: &'static str,
}

/// A person a stored clue is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClueSubject {
    pub name: String,
    pub id_masked: String,
    pub id_sealed: String,
    pub method: String,
    pub confidence: f32,
}

/// A candidate of a review item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewCandidate {
    pub person_id: i64,
    pub name: String,
    pub id_masked: String,
    pub household_no: String,
    pub confidence: f32,
}

/// Whether `p` may deliver data of `kind`: the office for anyone, a department for its own.
fn may_deliver(p: &Principal, department_id: i64) -> bool {
    p.user.role.is_office()
        || (p.user.role == Role::Department && p.user.unit_ids().contains(&department_id))
}

/// The label of a status of the ledger.
pub fn ledger_status_label(s: &str) -> &'static str {
    match s {
        "on_time" => "按时报送",
        "late" => "逾期报送",
        "missing" => "逾期未报",
        "not_due" => "未到期",
        "not_started" => "尚未开始报送",
        _ => "本月无报送要求",
    }
}

/// Whether a decision on a row can be reused for other rows with the same ID text and name:
/// only when at least 14 digits (region and birth date) survive. `4.11321E+17` is the same
/// text for thousands of people; a decision on it holds for its own row only.
fn reusable(raw: &str) -> bool {
    raw.bytes()
        .take_while(|b| !matches!(b, b'E' | b'e' | b'.'))
        .filter(u8::is_ascii_digit)
        .count()
        >= 14
}

/// The keyed hash a review item and its decision are found by: the data kind, the ID text and
/// the name; for a weak ID also the row itself.
fn pair_key(
    vault: &crate::vault::Vault,
    kind: DataKind,
    raw: &str,
    name: &str,
    row: Option<(&str, u32)>,
) -> String {
    match row {
        Some((source, row)) if !reusable(raw) => {
            vault.lookup(&format!("pair|{}|{raw}|{name}|{source}|{row}", kind.code()))
        }
        _ => vault.lookup(&format!("pair|{}|{raw}|{name}", kind.code())),
    }
}

fn clue_key(vault: &crate::vault::Vault, c: &Clue) -> String {
    let k = c.key();
    vault.lookup(&format!("clue|{}|{}", k.rule, k.subject))
}

/// The ID as a file gave it, masked like any ID number: only its first four and last four
/// characters stay.
fn mask_raw(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let mut s: String = chars[..4].iter().collect();
    s.push_str(&"*".repeat(chars.len() - 8));
    s.extend(&chars[chars.len() - 4..]);
    s
}

/// Files of a delivery, framed (name length, name, data length, data) before sealing.
fn frame(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

fn unframe(mut b: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let name = String::from_utf8(b.get(4..4 + n)?.to_vec()).ok()?;
        b = &b[4 + n..];
        let len = u64::from_le_bytes(b.get(..8)?.try_into().ok()?) as usize;
        let data = b.get(8..8 + len)?.to_vec();
        b = &b[8 + len..];
        out.push((name, data));
    }
    Some(out)
}

impl App {
    fn feeds_dir(&self) -> std::path::PathBuf {
        self.settings.data_dir.join("feeds")
    }

    /// The department that delivers `kind`, by its registry code.
    async fn feed_department(&self, kind: DataKind) -> Result<liandong_store::Department> {
        self.store
            .departments()
            .await?
            .into_iter()
            .find(|d| d.code == kind.department())
            .ok_or_else(|| ServiceError::Internal(format!("成员单位中没有 {}", kind.department())))
    }

    /// Refuses early (before a large body is read) a user who may not deliver `kind`.
    pub async fn check_may_deliver(&self, p: &Principal, kind: DataKind) -> Result<()> {
        let dept = self.feed_department(kind).await?;
        if may_deliver(p, dept.id) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "“{}”由{}报送",
                kind.label(),
                dept.name
            )))
        }
    }

    /// Checks a delivery whole (every file, every sheet, every cell), seals it on disk and
    /// enters it in the ledger; a file with errors refuses the delivery and writes nothing.
    pub async fn deliver_feed(
        &self,
        p: &Principal,
        kind: DataKind,
        due_month: Option<Month>,
        files: Vec<(String, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<Delivered> {
        let dept = self.feed_department(kind).await?;
        if !may_deliver(p, dept.id) {
            return Err(ServiceError::Forbidden(format!(
                "“{}”由{}报送",
                kind.label(),
                dept.name
            )));
        }
        if files.is_empty() {
            return Err(ServiceError::invalid("file", "请选择要报送的文件"));
        }
        if files.iter().map(|f| f.1.len()).sum::<usize>() > FEED_MAX_BYTES {
            return Err(ServiceError::invalid(
                "file",
                "文件合计超过 1 GB，请分批报送",
            ));
        }
        let today = liandong_domain::deadline::county_date(now);
        let due_month = match due_month {
            Some(m) if kind.cadence().due_in(m).is_none() => {
                return Err(ServiceError::invalid(
                    "due_month",
                    format!(
                        "“{}”在{}没有报送要求（{}）",
                        kind.label(),
                        m.label(),
                        kind.cadence().label()
                    ),
                ))
            }
            Some(m) => m,
            None => Self::default_due_month(kind, today),
        };
        self.record_delivery(&p.actor(), kind, dept.id, due_month, files, now.timestamp())
            .await
    }

    /// Checks and stores a delivery made at `at` (its ledger entry, its sealed files); the
    /// same files delivered before change nothing.
    pub(crate) async fn record_delivery(
        &self,
        actor: &liandong_store::Actor,
        kind: DataKind,
        department_id: i64,
        due_month: Month,
        files: Vec<(String, Vec<u8>)>,
        at: i64,
    ) -> Result<Delivered> {
        use sha2::{Digest, Sha256};
        let size: usize = files.iter().map(|f| f.1.len()).sum();
        let mut hasher = Sha256::new();
        for (_, data) in &files {
            hasher.update(data);
        }
        let sha = hex::encode(hasher.finalize());
        let before = self.store.feed_by_hash(kind.code(), &sha).await?;
        if let Some(d) = before
            .as_ref()
            .filter(|d| d.due_month == due_month.to_string())
        {
            return Ok(Delivered {
                delivery: d.clone(),
                duplicate: true,
            });
        }
        // An unchanged list delivered again for a new month is a delivery of that month; its
        // sealed copy is already on disk.
        let stored = before.is_some();
        let vault = self.vault()?.clone();
        let dir = self.feeds_dir();
        let stored_as = format!("feeds/{sha}.sealed");
        let file_name = format!("{sha}.sealed");
        let on_event = matches!(
            kind.cadence(),
            liandong_compare::kinds::Cadence::OnEvent { .. }
        );
        let (report, rows, names) = tokio::task::spawn_blocking(move || {
            let (report, rows) = match liandong_compare::load(kind, &files) {
                Ok(data) => (
                    dataset_summary(kind, &data.report) + &failed_id_rows(&data),
                    data.report.rows,
                ),
                // Victims' lists are due monthly even when nothing happened: the template
                // with no rows says so.
                Err(liandong_compare::LoadError::NoRows(_)) if on_event => (
                    format!("{}（{}）：本期无数据", kind.label(), kind.code()),
                    0,
                ),
                Err(e) => return Err(ServiceError::invalid("file", e.to_string())),
            };
            if !stored {
                std::fs::create_dir_all(&dir)
                    .and_then(|_| {
                        std::fs::write(dir.join(file_name), vault.seal_bytes(&frame(&files)))
                    })
                    .map_err(|e| ServiceError::Internal(format!("无法保存报送文件：{e}")))?;
            }
            let names: Vec<String> = files.into_iter().map(|f| f.0).collect();
            Ok::<_, ServiceError>((report, rows, names))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let delivery = self
            .store
            .record_feed(
                actor,
                at,
                &NewFeedDelivery {
                    kind: kind.code().to_owned(),
                    department_id,
                    due_month: due_month.to_string(),
                    files: names,
                    row_count: rows as i64,
                    byte_count: size as i64,
                    sha256: sha,
                    stored_as,
                    report,
                },
            )
            .await?;
        Ok(Delivered {
            delivery,
            duplicate: false,
        })
    }

    /// The deadline a delivery made today answers: this month's if it has one, else the next.
    /// A second delivery in the month corrects this month's; delivering ahead names the month.
    fn default_due_month(kind: DataKind, today: NaiveDate) -> Month {
        kind.cadence().next_due_month(Month::of(today))
    }

    /// The ledger of `month`: every kind, its deadline in the month and the first delivery
    /// answering it.
    pub async fn feed_ledger(&self, month: Month, now: DateTime<Utc>) -> Result<Vec<LedgerLine>> {
        let deps = self.store.departments().await?;
        let deliveries = self.store.feed_deliveries(None, 10_000).await?;
        let today = liandong_domain::deadline::county_date(now);
        let started = self
            .store
            .first_feed_month()
            .await?
            .and_then(|m| m.parse::<Month>().ok())
            .is_some_and(|m| m <= month);
        let mut out = Vec::new();
        for kind in DataKind::ALL {
            let Some(dept) = deps.iter().find(|d| d.code == kind.department()) else {
                continue;
            };
            let due = kind.cadence().due_in(month);
            let first = deliveries
                .iter()
                .filter(|d| d.kind == kind.code() && d.due_month == month.to_string())
                .min_by_key(|d| d.delivered_at)
                .cloned();
            let status = match (due, &first) {
                (None, _) => "none",
                (Some(due), Some(d)) => {
                    let at = liandong_domain::deadline::county_date(
                        DateTime::from_timestamp(d.delivered_at, 0).unwrap_or_default(),
                    );
                    if at <= due {
                        "on_time"
                    } else {
                        "late"
                    }
                }
                (Some(_), None) if !started => "not_started",
                (Some(due), None) if today > due => "missing",
                (Some(_), None) => "not_due",
            };
            out.push(LedgerLine {
                kind: *kind,
                department_id: dept.id,
                department: dept.name.clone(),
                due,
                delivered: first,
                status,
            });
        }
        Ok(out)
    }

    /// The deliveries due in `month`, as the month close weighs them (`report.late`,
    /// `report.missing`).
    ///
    /// Deadlines count from the month the county's first delivery answers: a county that
    /// has not begun comparing is not marked down for data nobody has asked for yet.
    pub(crate) async fn feed_facts(&self, month: Month) -> Result<Vec<FeedFact>> {
        let started = self.store.first_feed_month().await?;
        if started
            .and_then(|m| m.parse::<Month>().ok())
            .is_none_or(|m| month < m)
        {
            return Ok(Vec::new());
        }
        let deps = self.store.departments().await?;
        let first = self.store.first_deliveries(&month.to_string()).await?;
        let mut out = Vec::new();
        for kind in DataKind::ALL {
            let (Some(due), Some(dept)) = (
                kind.cadence().due_in(month),
                deps.iter().find(|d| d.code == kind.department()),
            ) else {
                continue;
            };
            let delivered = first
                .iter()
                .find(|(k, d, _)| k == kind.code() && *d == dept.id)
                .and_then(|(_, _, at)| DateTime::from_timestamp(*at, 0))
                .map(liandong_domain::deadline::county_time);
            out.push(FeedFact {
                kind: kind.ordinal(),
                label: kind.label().to_owned(),
                department_id: dept.id,
                due: due.and_hms_opt(23, 59, 59).unwrap_or_default(),
                delivered,
            });
        }
        Ok(out)
    }

    pub async fn feed_deliveries(
        &self,
        kind: Option<DataKind>,
        limit: i64,
    ) -> Result<Vec<FeedDelivery>> {
        Ok(self
            .store
            .feed_deliveries(kind.map(DataKind::code), limit)
            .await?)
    }

    /// A blank template of a kind: its headers, and a sheet explaining each column.
    pub fn feed_template(&self, kind: DataKind) -> Result<Vec<u8>> {
        let headers: Vec<(&str, f64)> = kind.columns().iter().map(|c| (c.header, 16.0)).collect();
        let mut notes: Vec<(String, String)> = vec![
            (
                "数据类型".into(),
                format!("{}（{}）", kind.label(), kind.code()),
            ),
            ("报送频次".into(), kind.cadence().label()),
            ("必填列".into(), kind.required_headers().join("、")),
            (
                "身份证号".into(),
                "18 位（15 位旧号自动升位）；请将此列设为文本，避免被表格软件转成 4.11321E+17"
                    .into(),
            ),
        ];
        for c in kind.columns() {
            let how = match c.ty {
                liandong_compare::kinds::FieldType::Date => "日期，写作 2024-03-05",
                liandong_compare::kinds::FieldType::Money => {
                    "金额（元），最多两位小数，每格不超过 21,474,836.47"
                }
                liandong_compare::kinds::FieldType::Int => "整数",
                _ => "文字",
            };
            notes.push((c.header.to_owned(), how.to_owned()));
        }
        liandong_office::import::template(&headers, &[], &notes)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    // ---- rule library ----

    /// The rule library a run on `as_of` uses: the newest version saved for its year, else
    /// the newest of any year, else the built-in defaults; with its label.
    pub async fn ruleset_for(&self, as_of: NaiveDate) -> Result<(RuleSet, String)> {
        let (rules, label, _) = self.ruleset_text_for(as_of).await?;
        Ok((rules, label))
    }

    /// [`App::ruleset_for`] with the library's JSON text.
    pub async fn ruleset_text_for(&self, as_of: NaiveDate) -> Result<(RuleSet, String, String)> {
        use chrono::Datelike;
        let versions = self.store.rulesets().await?;
        let pick = versions
            .iter()
            .find(|v| v.policy_year == as_of.year())
            .or_else(|| versions.first());
        match pick {
            Some(v) => {
                let rules = RuleSet::from_json(&v.body).map_err(|e| {
                    ServiceError::Internal(format!("已保存的比对规则无法使用：{e}"))
                })?;
                Ok((
                    rules,
                    format!("{} 年第 {} 版", v.policy_year, v.version),
                    v.body.clone(),
                ))
            }
            None => Ok((
                RuleSet::defaults(),
                "内置默认规则".to_owned(),
                liandong_compare::rules::DEFAULT_RULES_JSON.to_owned(),
            )),
        }
    }

    pub async fn rulesets(&self) -> Result<Vec<RulesetVersion>> {
        Ok(self.store.rulesets().await?)
    }

    /// Saves a new version of the rule library, checked against the data kinds' templates.
    pub async fn save_ruleset(
        &self,
        p: &Principal,
        body: &str,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(i32, i64)> {
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden("比对规则由联动办公室维护".into()));
        }
        let spec: liandong_compare::rules::RuleSetSpec = serde_json::from_str(body)
            .map_err(|e| ServiceError::invalid("rules", format!("规则文件格式错误：{e}")))?;
        RuleSet::check(&spec).map_err(|e| ServiceError::invalid("rules", e.to_string()))?;
        let version = self
            .store
            .save_ruleset(
                &p.actor(),
                now.timestamp(),
                spec.policy_year,
                body,
                note.trim(),
            )
            .await?;
        Ok((spec.policy_year, version))
    }

    // ---- runs ----

    /// Starts a run of the rule library over the roster and the latest deliveries; the job
    /// shows its phase and progress. One run at a time.
    pub async fn start_compare(
        &self,
        p: &Principal,
        as_of: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden("比对由联动办公室运行".into()));
        }
        self.vault()?;
        let as_of = as_of.unwrap_or_else(|| liandong_domain::deadline::county_date(now));
        let token = crate::auth::random_token();
        let job = Arc::new(CompareJob {
            user_id: p.user.id,
            started: std::time::Instant::now(),
            phase: Mutex::new("准备".into()),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            state: Mutex::new(RunState::Running),
        });
        {
            let mut jobs = self
                .compare_jobs
                .lock()
                .map_err(|_| ServiceError::Internal("比对任务表不可用".into()))?;
            if jobs.values().any(|j| j.state() == RunState::Running) {
                return Err(ServiceError::Conflict("已有比对正在运行，请稍候".into()));
            }
            // Finished jobs are kept half an hour, long enough to show where they ended.
            jobs.retain(|_, j| j.started.elapsed() < std::time::Duration::from_secs(1800));
            jobs.insert(token.clone(), job.clone());
        }
        let app = self.clone();
        let actor = p.actor();
        tokio::spawn(async move {
            let state = match app.run_compare(&job, &actor, as_of, now).await {
                Ok(id) => RunState::Done(id),
                Err(e) => RunState::Failed(e.to_string()),
            };
            if let Ok(mut s) = job.state.lock() {
                *s = state;
            }
        });
        Ok(token)
    }

    pub fn compare_job(&self, p: &Principal, token: &str) -> Result<Arc<CompareJob>> {
        self.compare_jobs
            .lock()
            .ok()
            .and_then(|j| j.get(token).cloned())
            .filter(|j| j.user_id == p.user.id)
            .ok_or_else(|| ServiceError::NotFound("未找到该比对任务（已过期或不属于您）".into()))
    }

    /// The deliveries a run reads: for kinds that accumulate, every month's latest delivery
    /// over the last 13 months; for the others, the latest delivery.
    async fn deliveries_for(&self, as_of: NaiveDate) -> Result<Vec<(DataKind, Vec<FeedDelivery>)>> {
        let all = self.store.feed_deliveries(None, 100_000).await?;
        let mut out = Vec::new();
        // A month's data is due the month after: the 365 days up to the as-of date are
        // answered by the 13 calls from 11 months before it to the one after.
        let last = Month::of(as_of).next();
        let mut first = last;
        for _ in 0..12 {
            first = first.prev();
        }
        for kind in DataKind::ALL {
            let mut mine: Vec<&FeedDelivery> = all
                .iter()
                .filter(|d| d.kind == kind.code() && d.row_count > 0)
                .filter(|d| d.due_month.parse::<Month>().is_ok_and(|m| m <= last))
                .collect();
            // Newest call first, then the newest delivery answering it.
            mine.sort_by(|a, b| {
                b.due_month
                    .cmp(&a.due_month)
                    .then(b.delivered_at.cmp(&a.delivered_at))
            });
            let picked: Vec<FeedDelivery> = if !kind.accumulates() {
                mine.into_iter().take(1).cloned().collect()
            } else {
                let recent = mine
                    .into_iter()
                    .filter(|d| d.due_month.parse::<Month>().is_ok_and(|m| m >= first));
                if matches!(
                    kind.cadence(),
                    liandong_compare::kinds::Cadence::OnEvent { .. }
                ) {
                    // Reported as they happen: every batch adds to the others.
                    recent.cloned().collect()
                } else {
                    // One list a month: a second delivery for a month corrects the first.
                    let mut seen = HashSet::new();
                    recent
                        .filter(|d| seen.insert(d.due_month.clone()))
                        .cloned()
                        .collect()
                }
            };
            if !picked.is_empty() {
                out.push((*kind, picked));
            }
        }
        Ok(out)
    }

    pub(crate) async fn run_compare(
        &self,
        job: &Arc<CompareJob>,
        actor: &liandong_store::Actor,
        as_of: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let started = std::time::Instant::now();
        job.set_phase("读取农户名单");
        let members = self.store.compare_members().await?;
        let person_ids = self.store.person_ids_by_lookup().await?;
        let deliveries = self.deliveries_for(as_of).await?;
        let (rules, ruleset) = self.ruleset_for(as_of).await?;
        let quiet = chrono::Duration::days(i64::from(self.settings.clue_quiet_days));
        let open = self
            .store
            .standing_clue_keys((now - quiet).timestamp())
            .await?;
        let pending = self.store.pending_pair_keys().await?;
        let vault = self.vault()?.clone();
        // Decisions on pairs: the newest per key wins.
        let mut decided: HashMap<String, Decided> = HashMap::new();
        for (key, sealed) in self.store.decided_pairs().await? {
            let d = match sealed {
                Some(s) => match IdNumber::parse(&vault.open(&s)?) {
                    Ok(id) => Decided::Confirmed(id.key()),
                    Err(_) => continue,
                },
                None => Decided::Rejected,
            };
            decided.entry(key).or_insert(d);
        }
        let (households, townships) = self.store.clue_places().await?;
        let deps = self.store.departments().await?;
        let dept_ids: HashMap<String, i64> = deps.iter().map(|d| (d.code.clone(), d.id)).collect();
        let used: Vec<String> = deliveries
            .iter()
            .flat_map(|(_, ds)| ds.iter().map(|d| d.id.to_string()))
            .collect();
        let dir = self.settings.data_dir.clone();
        let job2 = job.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            // Opening the roster's sealed numbers is the costly part of reading it: every core.
            let keys = open_keys(&members, &vault)?;
            let rows: Vec<RosterRow<'_>> = members
                .iter()
                .zip(&keys)
                .filter_map(|(m, k)| {
                    Some(RosterRow {
                        row: 0,
                        household_no: &m.household_no,
                        township: &m.township,
                        village: &m.village,
                        group: "",
                        kind: m.kind,
                        stage: m.stage,
                        dates: [None; 3],
                        risks: Vec::new(),
                        measures: "",
                        cadre: "",
                        name: &m.name,
                        relation: "",
                        id: (*k)?,
                        phone: String::new(),
                        health: "",
                        disability: "",
                        labour: "",
                        schooling: "",
                    })
                })
                .collect();
            let roster = Roster::from_rows(liandong_compare::RosterRows::from(rows));
            job2.set_phase("读取各部门数据");
            let mut datasets = Vec::new();
            for (kind, ds) in &deliveries {
                let mut files = Vec::new();
                for d in ds {
                    let sealed = std::fs::read(dir.join(&d.stored_as)).map_err(|e| {
                        ServiceError::Internal(format!("报送文件 {} 无法读取：{e}", d.stored_as))
                    })?;
                    let opened = vault.open_bytes(&sealed)?;
                    let parts = unframe(&opened).ok_or_else(|| {
                        ServiceError::Internal(format!("报送文件 {} 已损坏", d.stored_as))
                    })?;
                    for (name, data) in parts {
                        files.push((format!("{}/{name}", d.due_month), data));
                    }
                }
                let data = liandong_compare::load(*kind, &files)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                datasets.push(data);
            }
            job2.set_phase("按规则比对");
            let decide = |kind: DataKind, raw: &str, name: &str| {
                if !reusable(raw) {
                    return Decided::Undecided;
                }
                decided
                    .get(&pair_key(&vault, kind, raw, name, None))
                    .copied()
                    .unwrap_or(Decided::Undecided)
            };
            let none = HashSet::new();
            let (clues, mut report) = Run {
                roster: &roster,
                datasets: &datasets,
                rules: &rules,
                as_of,
                open: &none,
                fuzzy: true,
                decided: Some(&decide),
            }
            .execute(&mut |done, total| {
                job2.total.store(total, Ordering::Relaxed);
                job2.done.store(done, Ordering::Relaxed);
            });
            // Clues still open, or verified lately, are counted, not raised again.
            let mut fresh = Vec::new();
            for c in clues {
                let key = clue_key(&vault, &c);
                if open.contains(&key) {
                    if let Some(o) = report.rules.iter_mut().find(|o| o.code == c.rule) {
                        o.clues -= 1;
                        o.already_open += 1;
                    }
                } else {
                    fresh.push(stored_clue(
                        &c,
                        key,
                        &vault,
                        &households,
                        &townships,
                        &dept_ids,
                    ));
                }
            }
            // The same row in several months' files is one question for a person.
            let mut queued = pending;
            let mut reviews: Vec<NewReview> = Vec::new();
            for r in &report.review {
                if let Some(v) = stored_review(r, &vault, &queued, &person_ids) {
                    queued.insert(v.pair_key.clone());
                    reviews.push(v);
                }
            }
            let summary =
                liandong_compare::output::summary(&report, started.elapsed().as_secs_f64());
            Ok::<_, ServiceError>((fresh, reviews, summary))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let (clues, reviews, summary) = outcome;
        job.set_phase("保存线索");
        let run = self
            .store
            .record_run(
                actor,
                now.timestamp(),
                &NewRun {
                    as_of: as_of.to_string(),
                    ruleset,
                    deliveries: used.join(","),
                    summary,
                    millis: started.elapsed().as_millis() as i64,
                },
                &clues,
                &reviews,
            )
            .await?;
        Ok(run.id)
    }

    pub async fn compare_runs(&self, limit: i64) -> Result<Vec<CompareRun>> {
        Ok(self.store.compare_runs(limit).await?)
    }

    pub async fn compare_run(&self, id: i64) -> Result<CompareRun> {
        Ok(self.store.compare_run(id).await?)
    }

    // ---- clues ----

    /// What clues `p` sees: all for roles that see all; else those of its townships and
    /// those routed to its departments.
    pub fn clue_scope(p: &Principal) -> Option<Vec<i64>> {
        (!p.user.role.sees_all()).then(|| p.user.unit_ids())
    }

    pub async fn clues_for(
        &self,
        p: &Principal,
        mut f: ClueFilter,
    ) -> Result<(Vec<RiskClue>, i64)> {
        f.units = Self::clue_scope(p);
        Ok(self.store.clues(&f).await?)
    }

    pub async fn clue_for(&self, p: &Principal, id: i64) -> Result<RiskClue> {
        let c = self.store.clue(id).await?;
        if let Some(units) = Self::clue_scope(p) {
            let routes = self.store.clue_routes(id).await?;
            let mine = c.township_id.is_some_and(|t| units.contains(&t))
                || routes.iter().any(|r| units.contains(r));
            if !mine {
                return Err(ServiceError::NotFound("未找到该风险线索".into()));
            }
        }
        Ok(c)
    }

    /// Who may record a clue's outcome: the office, the clue's township, or (for a clue with
    /// no township) a department it is routed to.
    async fn may_settle(&self, p: &Principal, c: &RiskClue) -> Result<bool> {
        let role = p.user.role;
        if role.read_only() {
            return Ok(false);
        }
        if role.is_office() {
            return Ok(true);
        }
        let mine = p.user.unit_ids();
        Ok(match c.township_id {
            Some(t) => role == Role::Township && mine.contains(&t),
            None => {
                role == Role::Department
                    && self
                        .store
                        .clue_routes(c.id)
                        .await?
                        .iter()
                        .any(|r| mine.contains(r))
            }
        })
    }

    pub async fn can_settle_clue(&self, p: &Principal, c: &RiskClue) -> bool {
        c.status == "open" && self.may_settle(p, c).await.unwrap_or(false)
    }

    /// Whether `p` may hand the clue off as a warning (before or after verifying it).
    pub async fn can_hand_off_clue(&self, p: &Principal, c: &RiskClue) -> bool {
        c.warning_id.is_none()
            && c.status != "dismissed"
            && c.finding != "eligibility_doubt"
            && (c.household_id.is_some() || c.township_id.is_some())
            && self.may_settle(p, c).await.unwrap_or(false)
    }

    /// Records a clue's verification: true (属实) or not (不属实), with a note.
    pub async fn settle_clue(
        &self,
        p: &Principal,
        id: i64,
        confirmed: bool,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<RiskClue> {
        let c = self.clue_for(p, id).await?;
        if !self.may_settle(p, &c).await? {
            return Err(ServiceError::Forbidden(
                "线索由所在乡镇或联动办公室核实".into(),
            ));
        }
        let note = note.trim();
        if note.is_empty() {
            return Err(ServiceError::invalid("note", "请填写核实情况"));
        }
        if note.chars().count() > 1000 {
            return Err(ServiceError::invalid("note", "核实情况不能超过 1000 字"));
        }
        Ok(self
            .store
            .set_clue_outcome(&p.actor(), now.timestamp(), c.id, confirmed, note)
            .await?)
    }

    /// The office places a clue about someone outside the roster in the township where
    /// verification found the person lives; the township then verifies it and may hand it
    /// off. A clue about a roster household keeps its household's township.
    pub async fn assign_clue_township(
        &self,
        p: &Principal,
        id: i64,
        township_id: i64,
        now: DateTime<Utc>,
    ) -> Result<RiskClue> {
        if !p.user.role.is_office() || p.user.role.read_only() {
            return Err(ServiceError::Forbidden(
                "仅联动办公室可以为线索指派乡镇".into(),
            ));
        }
        let c = self.clue_for(p, id).await?;
        if c.household_id.is_some() {
            return Err(ServiceError::Conflict(
                "该线索的农户在名单中，所在乡镇随农户确定".into(),
            ));
        }
        let town = self.store.township(township_id).await.map_err(|_| {
            ServiceError::invalid("township_id", format!("乡镇 {township_id} 不存在"))
        })?;
        if !town.active {
            return Err(ServiceError::invalid(
                "township_id",
                format!("{}已停用，不能指派", town.name),
            ));
        }
        Ok(self
            .store
            .set_clue_township(&p.actor(), now.timestamp(), c.id, town.id)
            .await?)
    }

    /// Whether `p` may place this clue in a township (see [`App::assign_clue_township`]).
    pub fn can_assign_clue_township(p: &Principal, c: &RiskClue) -> bool {
        p.user.role.is_office()
            && !p.user.role.read_only()
            && c.status == "open"
            && c.household_id.is_none()
            && c.warning_id.is_none()
    }

    /// Hands a clue off to the warnings: a warning about its household (or township) with
    /// its evidence, routed and signed for like any other.
    pub async fn clue_to_warning(
        &self,
        p: &Principal,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<liandong_store::Warning> {
        let c = self.clue_for(p, id).await?;
        if !self.may_settle(p, &c).await? {
            return Err(ServiceError::Forbidden(
                "线索由所在乡镇或联动办公室转为预警".into(),
            ));
        }
        if c.status == "dismissed" {
            return Err(ServiceError::Conflict(
                "该线索已核实为不属实，不能转为预警".into(),
            ));
        }
        // One hand-off at a time: the warning is pushed (and forwarded) before it is linked.
        let _one = self.hand_offs.lock().await;
        let c = self.store.clue(c.id).await?;
        if c.warning_id.is_some() {
            return Err(ServiceError::Conflict("该线索已转为预警".into()));
        }
        let Some(Finding::Risk(risk_type)) = Finding::from_code(&c.finding) else {
            return Err(ServiceError::Conflict(
                "资格存疑类线索不是返贫致贫风险，请核实后处理，不转为预警".into(),
            ));
        };
        let subject = match (c.household_id, c.township_id) {
            (Some(h), _) => Subject::Household(h),
            (None, Some(t)) => Subject::Township(t),
            (None, None) => {
                return Err(ServiceError::Conflict(
                    "该线索没有所在乡镇，无法推送预警：请联动办公室核实其住址后指派乡镇".into(),
                ))
            }
        };
        let subjects: Vec<ClueSubject> = serde_json::from_str(&c.subjects).unwrap_or_default();
        let who: Vec<String> = subjects
            .iter()
            .map(|s| format!("{}（{}）", s.name, s.id_masked))
            .collect();
        let input = WarningInput {
            subject,
            risk_type,
            summary: format!(
                "比对线索第 {} 号：{}，涉及 {}",
                c.id,
                c.title,
                who.join("、")
            ),
            occurred_on: liandong_domain::deadline::county_date(now),
            evidence: c.evidence.chars().take(2000).collect(),
        };
        let w = self
            .push_warning(
                &p.actor(),
                Self::pushing_department(p),
                "compare",
                input,
                now,
            )
            .await?;
        self.store
            .link_clue_warning(&p.actor(), now.timestamp(), c.id, w.id)
            .await?;
        Ok(w)
    }

    /// When a clue's verification is due (county time).
    pub fn clue_verify_due(&self, c: &RiskClue) -> chrono::NaiveDateTime {
        let created = DateTime::from_timestamp(c.created_at, 0).unwrap_or_default();
        liandong_domain::deadline::county_time(created)
            + chrono::Duration::days(i64::from(self.settings.clue_verify_days))
    }

    /// Each rule's verified clues, for its precision (属实率).
    pub async fn clue_tallies(&self) -> Result<Vec<RuleTally>> {
        Ok(self.store.clue_tallies().await?)
    }

    /// The people of a clue, masked; full numbers only through [`App::unmask_clue`].
    pub fn clue_subjects(c: &RiskClue) -> Vec<ClueSubject> {
        serde_json::from_str::<Vec<ClueSubject>>(&c.subjects)
            .unwrap_or_default()
            .into_iter()
            .map(|mut s| {
                s.id_sealed.clear();
                s
            })
            .collect()
    }

    /// Clues for export: with full ID numbers only for a role that may see them and says
    /// why (written to the operation log), masked otherwise.
    pub async fn clues_export(
        &self,
        p: &Principal,
        f: ClueFilter,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            if !matches!(
                p.user.role,
                Role::OfficeAdmin | Role::OfficeStaff | Role::Township
            ) {
                return Err(ServiceError::Forbidden(
                    "您的角色不能导出完整身份证号".into(),
                ));
            }
            if r.chars().count() > 200 {
                return Err(ServiceError::invalid("reason", "用途不能超过 200 字"));
            }
        }
        let unmask = reason.is_some();
        let (clues, _) = self
            .clues_for(
                p,
                ClueFilter {
                    limit: 100_000,
                    offset: 0,
                    ..f.clone()
                },
            )
            .await?;
        if let Some(r) = reason {
            let people: usize = clues.iter().map(|c| Self::clue_subjects(c).len()).sum();
            let filter = serde_json::json!({"rule": f.rule, "status": f.status,
                "township_id": f.township_id, "method": f.method, "run_id": f.run_id});
            self.store
                .audit_read(
                    &p.actor(),
                    now.timestamp(),
                    "clue.export_unmasked",
                    "risk_clue:*",
                    &serde_json::json!({"reason": r, "clues": clues.len(), "people": people, "filter": filter}),
                )
                .await?;
        }
        let vault = self.vault()?;
        let rows: Vec<Vec<liandong_office::Cell>> = clues
            .iter()
            .map(|c| {
                let subjects: Vec<ClueSubject> =
                    serde_json::from_str(&c.subjects).unwrap_or_default();
                let names: Vec<&str> = subjects.iter().map(|s| s.name.as_str()).collect();
                let ids: Vec<String> = subjects
                    .iter()
                    .map(|s| {
                        if unmask {
                            vault
                                .open(&s.id_sealed)
                                .unwrap_or_else(|_| s.id_masked.clone())
                        } else {
                            s.id_masked.clone()
                        }
                    })
                    .collect();
                vec![
                    c.id.into(),
                    c.rule.as_str().into(),
                    c.title.as_str().into(),
                    Finding::from_code(&c.finding)
                        .map_or("", Finding::label)
                        .into(),
                    Severity::from_code(&c.severity)
                        .map_or("", Severity::label)
                        .into(),
                    c.township.clone().unwrap_or_default().into(),
                    c.household_no.clone().unwrap_or_default().into(),
                    names.join("、").into(),
                    ids.join("、").into(),
                    c.method.as_str().into(),
                    format!("{:.2}", c.confidence as f64 / 1000.0).into(),
                    c.evidence.as_str().into(),
                    clue_status_label(&c.status).into(),
                    c.departments.as_str().into(),
                ]
            })
            .collect();
        let columns = [
            ("编号", 7.0),
            ("规则", 20.0),
            ("线索", 24.0),
            ("风险类型", 10.0),
            ("等级", 6.0),
            ("乡镇", 10.0),
            ("户编号", 14.0),
            ("姓名", 10.0),
            ("身份证号", 22.0),
            ("匹配方式", 10.0),
            ("置信度", 8.0),
            ("依据", 60.0),
            ("状态", 8.0),
            ("推送部门", 16.0),
        ];
        let columns: Vec<liandong_office::Column> = columns
            .iter()
            .map(|(header, width)| liandong_office::Column {
                header,
                width: *width,
            })
            .collect();
        let subtitle = format!(
            "导出时间：{}；{}",
            liandong_domain::deadline::county_time(now).format("%Y-%m-%d %H:%M"),
            if unmask {
                "含完整身份证号，注意保密"
            } else {
                "身份证号已脱敏"
            }
        );
        liandong_office::workbook(&[liandong_office::Sheet {
            name: "风险线索",
            title: "信息比对风险线索",
            subtitle: &subtitle,
            columns: &columns,
            rows: &rows,
        }])
        .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    // ---- review queue ----

    /// Review items by status, `per_page` at a time from page `page` (0 first), and how many
    /// there are in all.
    pub async fn reviews(
        &self,
        p: &Principal,
        status: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<MatchReview>, i64)> {
        if !p.user.role.is_office() && p.user.role != Role::Leader && p.user.role != Role::Auditor {
            return Err(ServiceError::Forbidden("待确认匹配由联动办公室处理".into()));
        }
        Ok(self
            .store
            .reviews(status, per_page, page.max(0) * per_page)
            .await?)
    }

    pub fn review_candidates(r: &MatchReview) -> Vec<ReviewCandidate> {
        serde_json::from_str(&r.candidates).unwrap_or_default()
    }

    /// Confirms a review item as one of its candidates, or rejects them all; the next run
    /// remembers it.
    pub async fn decide_review(
        &self,
        p: &Principal,
        id: i64,
        person_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<MatchReview> {
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden("待确认匹配由联动办公室处理".into()));
        }
        let r = self.store.review(id).await?;
        if let Some(pid) = person_id {
            if !Self::review_candidates(&r)
                .iter()
                .any(|c| c.person_id == pid)
            {
                return Err(ServiceError::invalid("person_id", "请从候选人中选择"));
            }
        }
        Ok(self
            .store
            .decide_review(&p.actor(), now.timestamp(), id, person_id)
            .await?)
    }
}

/// A clue's status in Chinese.
pub fn clue_status_label(s: &str) -> &'static str {
    match s {
        "open" => "待核实",
        "confirmed" => "属实",
        "dismissed" => "不属实",
        _ => "",
    }
}

/// The roster's ID keys, opened on every core; `None` for a number that no longer parses.
fn open_keys(
    members: &[liandong_store::CompareMember],
    vault: &crate::vault::Vault,
) -> Result<Vec<Option<IdKey>>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = members.len().div_ceil(cores).max(1);
    let mut out: Vec<Option<IdKey>> = vec![None; members.len()];
    let failed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for (ms, ks) in members.chunks(per).zip(out.chunks_mut(per)) {
            let failed = &failed;
            s.spawn(move || {
                for (m, k) in ms.iter().zip(ks) {
                    match vault.open(&m.id_sealed) {
                        Ok(plain) => *k = IdNumber::parse(&plain).ok().map(|i| i.key()),
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if failed.load(Ordering::Relaxed) > 0 {
        return Err(ServiceError::Internal(
            "名单中的身份证号无法解密（密钥不符或数据损坏）".into(),
        ));
    }
    Ok(out)
}

fn stored_clue(
    c: &Clue,
    key: String,
    vault: &crate::vault::Vault,
    households: &HashMap<String, i64>,
    townships: &HashMap<String, i64>,
    dept_ids: &HashMap<String, i64>,
) -> NewClue {
    let subjects: Vec<ClueSubject> = c
        .subjects
        .iter()
        .map(|s| {
            let id = s.key.id_number();
            ClueSubject {
                name: s.name.clone(),
                id_masked: id.masked(),
                id_sealed: vault.seal(id.expose()),
                method: s.method.code().to_owned(),
                confidence: s.confidence,
            }
        })
        .collect();
    let method = c
        .subjects
        .iter()
        .map(|s| s.method)
        .max_by_key(|m| *m as u8)
        .map_or("exact", |m| m.code());
    let confidence = c
        .subjects
        .iter()
        .map(|s| s.confidence)
        .fold(1.0_f32, f32::min);
    NewClue {
        rule: c.rule.clone(),
        title: c.title.clone(),
        finding: c.finding.code().to_owned(),
        severity: c.severity.code().to_owned(),
        clue_key: key,
        household_id: c
            .household_no
            .as_ref()
            .and_then(|h| households.get(h).copied()),
        township_id: c.township.as_ref().and_then(|t| townships.get(t).copied()),
        subjects: serde_json::to_string(&subjects).unwrap_or_else(|_| "[]".into()),
        method: method.to_owned(),
        confidence: (confidence * 1000.0).round() as i64,
        evidence: c.evidence.clone(),
        routes: c
            .departments
            .iter()
            .filter_map(|d| dept_ids.get(d.as_str()).copied())
            .collect(),
    }
}

fn stored_review(
    r: &ReviewItem,
    vault: &crate::vault::Vault,
    pending: &HashSet<String>,
    person_ids: &HashMap<String, i64>,
) -> Option<NewReview> {
    let key = pair_key(
        vault,
        r.kind,
        &r.raw_id,
        &r.name,
        Some((r.source.as_str(), r.row)),
    );
    if pending.contains(&key) {
        return None;
    }
    let candidates: Vec<ReviewCandidate> = r
        .candidates
        .iter()
        .filter_map(|(k, name, household_no, confidence)| {
            let id = k.id_number();
            Some(ReviewCandidate {
                person_id: *person_ids.get(&vault.lookup(id.expose()))?,
                name: name.clone(),
                id_masked: id.masked(),
                household_no: household_no.clone(),
                confidence: *confidence,
            })
        })
        .collect();
    Some(NewReview {
        kind: r.kind.code().to_owned(),
        source: r.source.clone(),
        row_no: i64::from(r.row),
        raw_masked: mask_raw(&r.raw_id),
        name: r.name.clone(),
        pair_key: key,
        candidates: serde_json::to_string(&candidates).unwrap_or_else(|_| "[]".into()),
    })
}

/// A risk type's or a doubt's label.
pub fn finding_label(code: &str) -> &'static str {
    Finding::from_code(code).map_or("", Finding::label)
}

pub fn severity_label(code: &str) -> &'static str {
    Severity::from_code(code).map_or("", Severity::label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_files_frame_and_unframe() {
        let files = vec![
            ("一月.csv".to_owned(), b"a,b\n1,2\n".to_vec()),
            ("二月.xlsx".to_owned(), vec![0, 1, 2, 255]),
        ];
        assert_eq!(unframe(&frame(&files)), Some(files));
        assert_eq!(unframe(&[1, 0, 0]), None);
    }

    #[test]
    fn raw_ids_are_masked_whatever_their_shape() {
        assert_eq!(mask_raw("4.11321E+17"), "4.11***E+17");
        assert_eq!(mask_raw("41132119900101123"), "4113*********1123");
        assert_eq!(mask_raw("123"), "***");
    }
}
