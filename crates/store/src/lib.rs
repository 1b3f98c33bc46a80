//! The storage layer of liandong: the only place SQL lives. Every operation that changes data
//! runs in one transaction together with its operation-log entry (操作日志), so a change and
//! its audit record commit or fail together. Reads of unit-owned records take a [`Scope`].
//!
//! SQL is written to run on SQLite and PostgreSQL alike (numbered `$n` parameters,
//! `RETURNING`, `ON CONFLICT`, integers for flags and Unix-second timestamps).

mod attachments;
mod audit;
mod compare;
mod migrate;
mod monthly;
mod notices;
mod policies;
mod registry;
mod roster;
mod scoring;
mod sessions;
mod users;
mod warnings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor, Row};

pub use attachments::Attachment;
pub use audit::{AuditEntry, AuditFilter, LoginAttempt, LoginFilter};
pub use compare::{
    ClueFilter, CompareMember, CompareRun, FeedDelivery, MatchReview, NewClue, NewFeedDelivery,
    NewReview, NewRun, RiskClue, RuleTally, RulesetVersion,
};
pub use liandong_domain::audit::ChainBreak;
pub use monthly::{
    Assignment, AttendanceRecord, Draw, Finding, FollowUpTask, InspectionPlan, Meeting, MonthClose,
    MonthRecords, MonthlyReport, NewAssignment, NewFinding, NewMeeting, NewProblem, Problem,
    ProblemFilter, SubmissionRequirement, SubmissionTarget, TownshipScore, Verification,
};
pub use notices::{NewNotice, Notice};
pub use policies::{NewPolicy, Policy, PolicyFilter};
pub use registry::{Department, Duty, PersonKind, ResponsiblePerson, Township, Unit};
pub use roster::{
    Household, HouseholdFilter, HouseholdRecord, Person, PersonRecord, RosterChanges,
    RosterSnapshot, StageChange,
};
pub use scoring::{
    Acknowledgement, Appeal, Evaluation, EvaluationKind, LapseFlag, NewScoreEvent, RankingState,
    RankingStatus, RuleVersion, ScoreEvent,
};
pub use sessions::{LockState, LoginOutcome, SessionRecord};
pub use users::{NewUser, User, UserChanges};
pub use warnings::{NewWarning, Receipt, Warning};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("无法打开数据库文件 {path}：{detail}")]
    Open { path: String, detail: String },
    #[error("数据库文件 {path} 未通过完整性检查（{detail}），服务拒绝启动；请从备份恢复（liandong restore）")]
    Corrupt { path: String, detail: String },
    #[error("未找到{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("无权访问该单位的数据")]
    OutOfScope,
    /// The quarter is approved: changes are new entries in a later period, not edits.
    #[error("{}", scoring::locked_message(.0))]
    Locked(Box<RankingState>),
    #[error("数据库中的值无效：{0}")]
    Invalid(String),
    #[error("数据库错误：{0}")]
    Db(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who does a change, for the operation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    /// The source address, or `cli` for admin commands.
    pub source: String,
}

impl Actor {
    /// The platform itself (first start, demo data) or an admin command on the server.
    pub fn system(source: &str) -> Actor {
        Actor {
            user_id: None,
            username: "system".into(),
            role: "system".into(),
            source: source.into(),
        }
    }
}

/// The units whose records a user may read (数据范围). The office, leaders, the verification
/// team, the task-force office and auditors read everything; department and township users
/// read their own units' records only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Units(Vec<i64>),
}

impl Scope {
    /// Whether a record owned by `unit_id` is inside the scope.
    pub fn allows(&self, unit_id: i64) -> bool {
        match self {
            Scope::All => true,
            Scope::Units(ids) => ids.contains(&unit_id),
        }
    }

    /// A SQL condition restricting `column` to the scope. The ids are integers from the
    /// signed-in user's own record, so inlining them cannot inject anything.
    pub(crate) fn condition(&self, column: &str) -> String {
        match self {
            Scope::All => "1 = 1".to_owned(),
            Scope::Units(ids) if ids.is_empty() => "1 = 0".to_owned(),
            Scope::Units(ids) => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("{column} IN ({})", list.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
}

/// The database: a read pool and, for SQLite, a single writer connection so that writers
/// queue in the process instead of failing with "database is locked".
#[derive(Debug, Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    path: PathBuf,
    backend: Backend,
    /// The registry, read on nearly every page and changed rarely; cleared by its writes.
    registry: std::sync::Arc<std::sync::RwLock<Option<Vec<registry::Department>>>>,
    /// Bumped after every committed change to score events, evaluations, rule versions or a
    /// ranking's workflow, so that callers can cache what they compute from them.
    scoring_generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

const SQLITE_PRAGMAS: &str =
    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;";
/// The writer also gets a 64 MiB page cache: a county's roster import touches a million
/// index entries, which thrash SQLite's default 2 MiB cache. Its statement journals (the
/// pages a multi-row insert must restore if it fails halfway) stay in memory: written to a
/// temporary file, they took a fifth of a roster import.
pub(crate) const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;";

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`, refuses a damaged file,
    /// and applies the embedded migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let shown = path.display().to_string();
        let open_err = |e: sqlx::Error| StoreError::Open {
            path: shown.clone(),
            detail: e.to_string(),
        };
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = |max: u32, pragmas: &'static str| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute(pragmas).await?;
                        Ok(())
                    })
                })
        };
        // One plain connection first: a damaged file must stop the start with its name,
        // not leave a pool retrying it.
        let check: Result<String, sqlx::Error> = async {
            let mut conn = sqlx::AnyConnection::connect(&url).await?;
            let row = sqlx::query("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await?;
            let s = row.try_get::<String, _>(0);
            conn.close().await?;
            s
        }
        .await;
        match check {
            Ok(s) if s == "ok" => {}
            Ok(s) => {
                return Err(StoreError::Corrupt {
                    path: shown,
                    detail: s,
                })
            }
            Err(sqlx::Error::Database(e)) => {
                return Err(StoreError::Corrupt {
                    path: shown,
                    detail: e.message().to_owned(),
                })
            }
            Err(e) => return Err(open_err(e)),
        }
        let write = pool(1, SQLITE_WRITER_PRAGMAS)
            .connect(&url)
            .await
            .map_err(open_err)?;
        sqlx::query("PRAGMA journal_mode = WAL")
            .fetch_one(&write)
            .await
            .map_err(open_err)?;
        let read = pool(8, SQLITE_PRAGMAS)
            .connect(&url)
            .await
            .map_err(open_err)?;
        let store = Store {
            read,
            write,
            path: path.to_owned(),
            backend: Backend::Sqlite,
            registry: Default::default(),
            scoring_generation: Default::default(),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Changes with every committed change to anything a ranking is computed from.
    pub fn scoring_generation(&self) -> u64 {
        self.scoring_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn scoring_changed(&self) {
        self.scoring_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub(crate) fn registry_changed(&self) {
        if let Ok(mut r) = self.registry.write() {
            *r = None;
        }
        self.scoring_changed();
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Proves the database can be read and written: takes the write lock and rolls back.
    pub async fn health(&self) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE audit_head SET last_id = last_id WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT COUNT(*) FROM unit")
            .fetch_one(&mut *tx)
            .await?;
        let _: i64 = row.try_get(0)?;
        tx.rollback().await?;
        Ok(())
    }

    /// Writes a consistent copy of the live database to `dest` (which must not exist).
    pub async fn backup_to(&self, dest: &Path) -> Result<()> {
        let dest = dest.display().to_string();
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM app_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| get(&r, "value")).transpose()
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO app_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(key)
            .bind(value)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Checks that `file` is a readable SQLite database that passes its integrity check, without
/// touching the live database (used before a restore).
pub async fn check_sqlite_file(file: &Path) -> Result<()> {
    sqlx::any::install_default_drivers();
    let shown = file.display().to_string();
    if !file.is_file() {
        return Err(StoreError::Open {
            path: shown,
            detail: "文件不存在".into(),
        });
    }
    let url = format!("sqlite://{}?mode=ro", file.display());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| StoreError::Open {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    let res: Result<String, sqlx::Error> = async {
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await?;
        let s: String = row.try_get(0)?;
        let row = sqlx::query("SELECT COUNT(*) FROM audit_head")
            .fetch_one(&pool)
            .await?;
        let _: i64 = row.try_get(0)?;
        Ok(s)
    }
    .await;
    pool.close().await;
    match res {
        Ok(s) if s == "ok" => Ok(()),
        Ok(s) => Err(StoreError::Corrupt {
            path: shown,
            detail: s,
        }),
        Err(e) => Err(StoreError::Corrupt {
            path: shown,
            detail: e.to_string(),
        }),
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    Ok(row.try_get(col)?)
}

pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(get::<i64>(row, col)? != 0)
}

/// Turns a unique-constraint violation into a Chinese conflict message.
pub(crate) fn conflict(e: sqlx::Error, message: impl Into<String>) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(message.into())
        }
        _ => StoreError::Db(e),
    }
}
