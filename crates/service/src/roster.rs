//! The household roster as use cases: importing the national monitoring system's export
//! (.csv or .xlsx) in two steps, check and preview then apply on confirmation, with progress;
//! ID numbers normalised, checked, sealed and masked; the monitoring lifecycle; unmasking for
//! the roles that need it, logged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use liandong_domain::mask::mask_phone;
use liandong_domain::roster::RiskType;
use liandong_domain::{IdNumber, Role};
use liandong_store::{
    Household, HouseholdRecord, Person, PersonRecord, RosterChanges, RosterSnapshot,
};

use crate::error::{Result, ServiceError};
use crate::scoring::RowError;
use crate::vault::Vault;
use crate::{App, Principal};

pub use liandong_compare::roster::{ROSTER_COLUMNS, ROSTER_REQUIRED};

/// Limits of a roster file: a whole county's export.
pub fn roster_limits() -> liandong_office::import::Limits {
    liandong_office::import::Limits {
        max_bytes: 256 * 1024 * 1024,
        max_uncompressed: 2 * 1024 * 1024 * 1024,
        max_rows: 2_000_000,
        max_cell_chars: 500,
    }
}

/// What an import would change, by count, with a few examples of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPreview {
    pub rows: usize,
    pub households_added: usize,
    pub households_changed: usize,
    pub households_gone: usize,
    pub persons_added: usize,
    pub persons_changed: usize,
    pub persons_gone: usize,
    /// Household numbers of the first changes of each kind.
    pub examples: Vec<(String, String)>,
}

/// Where an import job stands.
#[derive(Debug, Clone)]
pub enum JobState {
    Checking,
    /// Checked, nothing written yet: what it would change.
    Ready(RosterPreview),
    /// The same file was imported before (by, at).
    AlreadyImported(String, i64),
    /// Refused: the errors by row and column, and the file back with an error column.
    Rejected(Vec<RowError>, Vec<u8>),
    /// Refused as a whole (unreadable, too large, missing columns).
    Failed(String),
    Applied(RosterPreview),
}

/// An import job: its owner, progress and state; the changes wait here for confirmation.
#[derive(Debug)]
pub struct RosterJob {
    pub user_id: i64,
    started: std::time::Instant,
    pub total: AtomicUsize,
    pub done: AtomicUsize,
    pub state: Mutex<JobState>,
    changes: Mutex<Option<(String, RosterChanges)>>,
}

impl RosterJob {
    pub fn state(&self) -> JobState {
        self.state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(JobState::Failed("内部错误".into()))
    }
    fn set(&self, s: JobState) {
        if let Ok(mut st) = self.state.lock() {
            *st = s;
        }
    }
}

pub type RosterJobs = Arc<Mutex<HashMap<String, Arc<RosterJob>>>>;

/// Compares an export with the stored roster.
pub fn diff(
    snapshot: &RosterSnapshot,
    households: Vec<HouseholdRecord>,
    persons: Vec<PersonRecord>,
) -> RosterChanges {
    let mut c = RosterChanges::default();
    let stored: HashMap<&str, (i64, bool, &HouseholdRecord)> = snapshot
        .households
        .iter()
        .map(|(id, active, h)| (h.household_no.as_str(), (*id, *active, h)))
        .collect();
    let listed: HashSet<String> = households.iter().map(|h| h.household_no.clone()).collect();
    for h in households {
        match stored.get(h.household_no.as_str()) {
            None => c.households_added.push(h),
            Some((id, active, old)) if !*active || **old != h => {
                c.households_changed.push((*id, h))
            }
            Some(_) => {}
        }
    }
    for (id, active, h) in &snapshot.households {
        if *active && !listed.contains(&h.household_no) {
            c.households_gone.push(*id);
        }
    }
    let stored: HashMap<&str, (i64, bool, &PersonRecord)> = snapshot
        .persons
        .iter()
        .map(|(id, active, p)| (p.id_lookup.as_str(), (*id, *active, p)))
        .collect();
    let listed: HashSet<String> = persons.iter().map(|p| p.id_lookup.clone()).collect();
    for p in persons {
        match stored.get(p.id_lookup.as_str()) {
            None => c.persons_added.push(p),
            Some((id, active, old)) if !*active || !old.same_as(&p) => {
                c.persons_changed.push((*id, p))
            }
            Some(_) => {}
        }
    }
    for (id, active, p) in &snapshot.persons {
        if *active && !listed.contains(&p.id_lookup) {
            c.persons_gone.push(*id);
        }
    }
    c
}

fn preview_of(rows: usize, c: &RosterChanges, snapshot: &RosterSnapshot) -> RosterPreview {
    let mut examples = Vec::new();
    for h in c.households_added.iter().take(5) {
        examples.push(("新增农户".to_owned(), h.household_no.clone()));
    }
    for (_, h) in c.households_changed.iter().take(5) {
        examples.push(("信息变化".to_owned(), h.household_no.clone()));
    }
    for id in c.households_gone.iter().take(5) {
        if let Some((_, _, h)) = snapshot.households.iter().find(|(x, _, _)| x == id) {
            examples.push(("不再列入".to_owned(), h.household_no.clone()));
        }
    }
    RosterPreview {
        rows,
        households_added: c.households_added.len(),
        households_changed: c.households_changed.len(),
        households_gone: c.households_gone.len(),
        persons_added: c.persons_added.len(),
        persons_changed: c.persons_changed.len(),
        persons_gone: c.persons_gone.len(),
        examples,
    }
}

/// Checks every row of an export, sealing what must be sealed: the households and members
/// it states, or every error by row and column.
pub fn check_rows(
    data: &liandong_office::import::SheetData,
    townships: &[(i64, String)],
    vault: &Vault,
    progress: &AtomicUsize,
) -> std::result::Result<(Vec<HouseholdRecord>, Vec<PersonRecord>), Vec<RowError>> {
    let names: Vec<String> = townships.iter().map(|t| t.1.clone()).collect();
    let rows = liandong_compare::parse_roster(&data.headers, &data.rows, Some(&names), progress)?;
    let township_id = |name: &str| townships.iter().find(|(_, n)| n == name).map_or(0, |t| t.0);
    let mut households: Vec<HouseholdRecord> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut persons = Vec::with_capacity(rows.len());
    let mut secrets = Vec::with_capacity(rows.len());
    for r in rows {
        let id = r.id.id_number();
        if seen.insert(r.household_no.to_owned()) {
            households.push(HouseholdRecord {
                household_no: r.household_no.to_owned(),
                township_id: township_id(r.township),
                village: r.village.to_owned(),
                village_group: r.group.to_owned(),
                kind: r.kind,
                stage: r.stage,
                identified_on: r.dates[0],
                assisted_on: r.dates[1],
                cleared_on: r.dates[2],
                risk_types: r.risks,
                measures: r.measures.to_owned(),
                cadre: r.cadre.to_owned(),
            });
        }
        persons.push(PersonRecord {
            household_no: r.household_no.to_owned(),
            name: r.name.to_owned(),
            // Sealed and hashed below, on every core, once the whole file has passed.
            id_lookup: String::new(),
            id_sealed: String::new(),
            id_masked: id.masked(),
            relation: r.relation.to_owned(),
            sex: id.sex().label().to_owned(),
            birth_date: id.birth_date(),
            phone_lookup: None,
            phone_sealed: None,
            phone_masked: None,
            health: r.health.to_owned(),
            disability: r.disability.to_owned(),
            labour: r.labour.to_owned(),
            schooling: r.schooling.to_owned(),
        });
        secrets.push((id, r.phone));
    }
    seal_persons(&mut persons, &secrets, vault);
    progress.store(data.rows.len(), Ordering::Relaxed);
    Ok((households, persons))
}

/// Fills in the sealed values and lookup hashes of ID and phone numbers, the costly part of
/// checking a roster, split over the machine's cores.
fn seal_persons(persons: &mut [PersonRecord], secrets: &[(IdNumber, String)], vault: &Vault) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = persons.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        for (ps, ss) in persons.chunks_mut(per).zip(secrets.chunks(per)) {
            s.spawn(move || {
                for (p, (id, phone)) in ps.iter_mut().zip(ss) {
                    p.id_lookup = vault.lookup(id.expose());
                    p.id_sealed = vault.seal(id.expose());
                    if !phone.is_empty() {
                        p.phone_lookup = Some(vault.lookup(phone));
                        p.phone_sealed = Some(vault.seal(phone));
                        p.phone_masked = Some(mask_phone(phone));
                    }
                }
            });
        }
    });
}

impl App {
    pub(crate) fn vault(&self) -> Result<&Vault> {
        if let Some(v) = self.vault.get() {
            return Ok(v);
        }
        let v = Vault::load(self.settings.data_key.as_deref(), &self.settings.data_dir)?;
        Ok(self.vault.get_or_init(|| v))
    }

    /// The roster import template: the headers, and a sheet explaining each column.
    pub fn roster_template(&self) -> Result<Vec<u8>> {
        let notes: Vec<(String, String)> = vec![
            ("示例".into(), "4113260001 | 城关镇 | 东关村 | 3 | 张某 | 411326199001011234 | 户主 | 边缘易致贫户 | 识别纳入 | 2023-03-02 | | | 因病 | 医疗救助 | 李某 | 13800000000".into()),
            ("身份证号".into(), "18 位（15 位旧号自动升位）；请将此列设为文本，避免被表格软件转成 4.11321E+17".into()),
            ("户类型".into(), "脱贫户、脱贫不稳定户、边缘易致贫户、突发严重困难户".into()),
            ("监测状态".into(), "识别纳入、落实帮扶、风险消除，或留空（三类户默认识别纳入）".into()),
            ("风险类型".into(), RiskType::ALL.iter().map(|r| r.label()).collect::<Vec<_>>().join("、")),
            ("日期".into(), "写作 2023-04-12".into()),
            ("同一户".into(), "每位家庭成员一行，同一户各行的户编号、乡镇、村、户类型须一致".into()),
        ];
        liandong_office::import::template(&ROSTER_COLUMNS, &[], &notes)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Starts checking an export in the background; the job shows progress, then what it
    /// would change. Nothing is written until [`App::confirm_roster_import`].
    pub async fn start_roster_import(&self, p: &Principal, bytes: Vec<u8>) -> Result<String> {
        use sha2::{Digest, Sha256};
        if !p.user.role.is_office() {
            return Err(ServiceError::Forbidden("名单由联动办公室导入".into()));
        }
        self.vault()?;
        let token = crate::auth::random_token();
        let job = Arc::new(RosterJob {
            user_id: p.user.id,
            started: std::time::Instant::now(),
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            state: Mutex::new(JobState::Checking),
            changes: Mutex::new(None),
        });
        if let Ok(mut jobs) = self.roster_jobs.lock() {
            // Kept half an hour: long enough to confirm or fetch the errors, no longer.
            jobs.retain(|_, j| j.started.elapsed() < std::time::Duration::from_secs(1800));
            jobs.insert(token.clone(), job.clone());
        }
        let app = self.clone();
        tokio::spawn(async move {
            let hash = hex::encode(Sha256::digest(&bytes));
            let state = match app.check_roster(&job, &bytes, &hash).await {
                Ok(s) => s,
                Err(e) => JobState::Failed(e.to_string()),
            };
            job.set(state);
        });
        Ok(token)
    }

    async fn check_roster(
        &self,
        job: &Arc<RosterJob>,
        bytes: &[u8],
        hash: &str,
    ) -> Result<JobState> {
        if let Some((by, at)) = self.store.imported_before("roster", hash).await? {
            return Ok(JobState::AlreadyImported(by, at));
        }
        let townships = self.store.active_townships().await?;
        let snapshot = self.store.roster_snapshot().await?;
        let vault = self.vault()?;
        let master = vault.clone();
        let job2 = job.clone();
        let data = bytes.to_vec();
        let outcome = tokio::task::spawn_blocking(move || {
            let table =
                liandong_office::import::read_table(&data, &ROSTER_REQUIRED, roster_limits())
                    .map_err(|e| e.to_string())?;
            job2.total.store(table.rows.len(), Ordering::Relaxed);
            Ok::<_, String>(match check_rows(&table, &townships, &master, &job2.done) {
                Ok((h, p)) => {
                    let rows = table.rows.len();
                    let changes = diff(&snapshot, h, p);
                    let preview = preview_of(rows, &changes, &snapshot);
                    Ok((preview, changes))
                }
                Err(errors) => {
                    let marks: Vec<(usize, String)> = errors
                        .iter()
                        .map(|e| (e.row, format!("“{}”列：{}", e.column, e.message)))
                        .collect();
                    let annotated =
                        liandong_office::import::with_errors(&table, &marks).unwrap_or_default();
                    Err((errors, annotated))
                }
            })
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(match outcome {
            Err(message) => JobState::Failed(message),
            Ok(Err((errors, annotated))) => JobState::Rejected(errors, annotated),
            Ok(Ok((preview, changes))) => {
                if let Ok(mut c) = job.changes.lock() {
                    *c = Some((hash.to_owned(), changes));
                }
                JobState::Ready(preview)
            }
        })
    }

    /// An import job of the user's.
    pub fn roster_job(&self, p: &Principal, token: &str) -> Result<Arc<RosterJob>> {
        self.roster_jobs
            .lock()
            .ok()
            .and_then(|j| j.get(token).cloned())
            .filter(|j| j.user_id == p.user.id)
            .ok_or_else(|| ServiceError::NotFound("未找到该导入任务（已过期或不属于您）".into()))
    }

    /// Applies a checked import, in one transaction.
    pub async fn confirm_roster_import(
        &self,
        p: &Principal,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RosterPreview> {
        let job = self.roster_job(p, token)?;
        let JobState::Ready(preview) = job.state() else {
            return Err(ServiceError::Conflict(
                "该导入尚未检查完成，或已处理".into(),
            ));
        };
        let taken = job.changes.lock().ok().and_then(|mut c| c.take());
        let Some((hash, changes)) = taken else {
            return Err(ServiceError::Conflict("该导入已处理".into()));
        };
        self.store
            .apply_roster(&p.actor(), now.timestamp(), &hash, &changes)
            .await?;
        job.set(JobState::Applied(preview.clone()));
        Ok(preview)
    }

    /// Who may see a household: townships their own, everyone else all (masked).
    pub fn household_townships(p: &Principal) -> Option<Vec<i64>> {
        (p.user.role == Role::Township).then(|| p.user.unit_ids())
    }

    pub async fn household_for(&self, p: &Principal, id: i64) -> Result<Household> {
        let h = self.store.household(id).await?;
        if let Some(t) = Self::household_townships(p) {
            if !t.contains(&h.record.township_id) {
                return Err(ServiceError::NotFound("未找到该农户".into()));
            }
        }
        Ok(h)
    }

    /// A member's full ID number, for a role that needs it and says why; logged.
    pub async fn unmask_id(
        &self,
        p: &Principal,
        person_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(Person, String, Option<String>)> {
        let role = p.user.role;
        if !(role.is_office() || role == Role::Township) {
            return Err(ServiceError::Forbidden(
                "您的角色不能查看完整身份证号".into(),
            ));
        }
        let reason = crate::monthly::required("reason", "查看理由", reason, 200)?;
        let person = self.store.person(person_id).await?;
        self.household_for(p, person.household_id).await?;
        let vault = self.vault()?;
        let id = vault.open(&person.id_sealed)?;
        let phone = person
            .phone_sealed
            .as_deref()
            .map(|s| vault.open(s))
            .transpose()?;
        self.store
            .log_unmask(&p.actor(), now.timestamp(), person_id, "id_number", &reason)
            .await?;
        Ok((person, id, phone))
    }

    /// Finds a person by a (possibly unnormalised) ID number, without decrypting anything.
    pub async fn find_person(&self, raw_id: &str) -> Result<Option<Person>> {
        let (id, _) = IdNumber::normalize(raw_id)
            .map_err(|e| ServiceError::invalid("id_number", e.to_string()))?;
        let lookup = self.vault()?.lookup(id.expose());
        Ok(self.store.person_by_lookup(&lookup).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use liandong_domain::roster::MonitoringStage;

    fn sheet(rows: &[&[&str]]) -> liandong_office::import::SheetData {
        liandong_office::import::SheetData {
            headers: rows[0].iter().map(|s| s.to_string()).collect(),
            rows: rows[1..]
                .iter()
                .enumerate()
                .map(|(i, r)| (i + 2, r.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    const H: &[&str] = &[
        "户编号",
        "乡镇",
        "村",
        "姓名",
        "身份证号",
        "与户主关系",
        "户类型",
        "联系电话",
    ];

    fn id(seq: u16) -> String {
        IdNumber::from_parts(
            "411326",
            NaiveDate::from_ymd_opt(1980, 5, 6).expect("d"),
            seq,
        )
        .expect("id")
        .expose()
        .to_owned()
    }

    #[test]
    fn rows_are_checked_normalised_sealed_and_masked() {
        let v = Vault::from_master(&[1; 32]);
        let towns = vec![(30, "城关镇".to_owned())];
        let spaced = format!(" {} ", id(1).to_lowercase());
        let data = sheet(&[
            H,
            &[
                "H1",
                "城关镇",
                "东关村",
                "张一",
                &spaced,
                "户主",
                "边缘易致贫户",
                "138 0000 1111",
            ],
            &[
                "H1",
                "城关镇",
                "东关村",
                "张二",
                &id(2),
                "之子",
                "边缘易致贫户",
                "",
            ],
        ]);
        let (h, p) = check_rows(&data, &towns, &v, &AtomicUsize::new(0)).expect("ok");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].stage, MonitoringStage::Identified);
        assert_eq!(p.len(), 2);
        assert_eq!(v.open(&p[0].id_sealed).expect("open"), id(1));
        assert!(p[0].id_masked.starts_with("4113") && p[0].id_masked.contains("**"));
        assert_eq!(p[0].phone_masked.as_deref(), Some("138****1111"));
        assert_eq!(p[0].id_lookup, v.lookup(&id(1)));
    }

    #[test]
    fn every_bad_row_is_named_with_its_column() {
        let v = Vault::from_master(&[1; 32]);
        let towns = vec![(30, "城关镇".to_owned())];
        let data = sheet(&[
            H,
            &[
                "H1",
                "城关镇",
                "东关村",
                "张一",
                "4.11326E+17",
                "户主",
                "脱贫户",
                "",
            ],
            &[
                "H2",
                "无此镇",
                "东关村",
                "张二",
                &id(2),
                "户主",
                "贫困户",
                "12345",
            ],
            &[
                "H3",
                "城关镇",
                "东关村",
                "张三",
                &id(3),
                "户主",
                "脱贫户",
                "",
            ],
            &[
                "H4",
                "城关镇",
                "东关村",
                "张四",
                &id(3),
                "户主",
                "脱贫户",
                "",
            ],
            &[
                "H3",
                "城关镇",
                "西关村",
                "张五",
                &id(5),
                "之子",
                "脱贫户",
                "",
            ],
        ]);
        let errors = check_rows(&data, &towns, &v, &AtomicUsize::new(0)).expect_err("refused");
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert!(got.contains(&(2, "身份证号")));
        assert!(
            errors[0].message.contains("4.11321E+17") || errors[0].message.contains("表格软件")
        );
        assert!(got.contains(&(3, "乡镇")));
        assert!(got.contains(&(3, "户类型")));
        assert!(got.contains(&(3, "联系电话")));
        assert!(got.contains(&(5, "身份证号")), "duplicate ID: {got:?}");
        assert!(
            got.contains(&(6, "户编号")),
            "inconsistent household: {got:?}"
        );
    }

    #[test]
    fn a_newer_export_shows_what_it_adds_changes_and_drops() {
        let v = Vault::from_master(&[1; 32]);
        let towns = vec![(30, "城关镇".to_owned())];
        let first = sheet(&[
            H,
            &[
                "H1",
                "城关镇",
                "东关村",
                "张一",
                &id(1),
                "户主",
                "脱贫户",
                "",
            ],
            &[
                "H2",
                "城关镇",
                "东关村",
                "李一",
                &id(2),
                "户主",
                "脱贫户",
                "",
            ],
        ]);
        let (h, p) = check_rows(&first, &towns, &v, &AtomicUsize::new(0)).expect("ok");
        let snapshot = RosterSnapshot {
            households: h
                .into_iter()
                .enumerate()
                .map(|(i, h)| (i as i64 + 1, true, h))
                .collect(),
            persons: p
                .into_iter()
                .enumerate()
                .map(|(i, p)| (i as i64 + 1, true, p))
                .collect(),
        };
        let same = check_rows(&first, &towns, &v, &AtomicUsize::new(0)).expect("ok");
        assert!(
            diff(&snapshot, same.0, same.1).is_empty(),
            "sealing anew changes nothing"
        );
        let newer = sheet(&[
            H,
            &[
                "H1",
                "城关镇",
                "东关村",
                "张一",
                &id(1),
                "户主",
                "边缘易致贫户",
                "",
            ],
            &[
                "H3",
                "城关镇",
                "西关村",
                "王一",
                &id(3),
                "户主",
                "脱贫户",
                "",
            ],
        ]);
        let (h, p) = check_rows(&newer, &towns, &v, &AtomicUsize::new(0)).expect("ok");
        let c = diff(&snapshot, h, p);
        assert_eq!(c.households_added.len(), 1);
        assert_eq!(c.households_changed.len(), 1);
        assert_eq!(c.households_gone, vec![2]);
        assert_eq!(c.persons_added.len(), 1);
        assert_eq!(c.persons_changed.len(), 0);
        assert_eq!(c.persons_gone, vec![2]);
    }
}
