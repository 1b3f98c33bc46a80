//! The `liandong` command: `serve` and the admin commands, as a library so that tests can
//! start the same server on a random port.

pub mod compare;
pub mod deliver;

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use liandong_domain::password::PasswordPolicy;
use liandong_domain::Role;
use liandong_service::users::{generate_password, CreateUser};
use liandong_service::{App, Settings};
use liandong_store::{Actor, Store};

/// glibc's allocator spent most of a county roster import in malloc and free (millions of
/// small strings alive at once); mimalloc keeps those cheap. It builds from its bundled C
/// source, with no download.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 南召县巩固拓展脱贫攻坚成果“5+2”联动平台
#[derive(Debug, Parser)]
#[command(name = "liandong", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares. Each has a `LIANDONG_*` environment variable.
#[derive(Debug, Args)]
pub struct Global {
    /// Folder of the embedded database (created on first start).
    #[arg(
        long,
        env = "LIANDONG_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Log filter, e.g. `info` or `liandong=debug,tower_http=info`.
    #[arg(long, env = "LIANDONG_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Minimum password length.
    #[arg(
        long,
        env = "LIANDONG_PASSWORD_MIN_LENGTH",
        default_value_t = 12,
        global = true
    )]
    pub password_min_length: usize,
    /// How many of upper, lower, digit, symbol a password must contain.
    #[arg(
        long,
        env = "LIANDONG_PASSWORD_MIN_CLASSES",
        default_value_t = 3,
        global = true
    )]
    pub password_min_classes: usize,
    /// Days after which a password must be changed (0: never).
    #[arg(
        long,
        env = "LIANDONG_PASSWORD_MAX_AGE_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub password_max_age_days: i64,
    /// argon2id memory cost in KiB (at least 19456).
    #[arg(
        long,
        env = "LIANDONG_ARGON2_MEMORY_KIB",
        default_value_t = 19456,
        global = true
    )]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (at least 2).
    #[arg(
        long,
        env = "LIANDONG_ARGON2_ITERATIONS",
        default_value_t = 2,
        global = true
    )]
    pub argon2_iterations: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server (web UI, JSON API).
    Serve(ServeArgs),
    /// Manage accounts from the server's shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a consistent copy of the live database to FILE (safe while the server runs).
    Backup { file: PathBuf },
    /// Replace the database with a backup FILE (stop the server first).
    Restore { file: PathBuf },
    /// Operation log commands.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Compare department data sets with the roster and write risk clues (信息比对), from
    /// files alone: no server, no database.
    Compare(compare::CompareArgs),
    /// Deliver a department's data set to a running server (数据报送), with the API token of
    /// one of its users in LIANDONG_TOKEN.
    Deliver(deliver::DeliverArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LIANDONG_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Fill an empty database with a synthetic demo county.
    #[arg(long, env = "LIANDONG_DEMO")]
    pub demo: bool,
    /// Secure, `__Host-` prefixed cookies; set when TLS terminates in front of the server.
    #[arg(long, env = "LIANDONG_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Minutes of inactivity that end a session.
    #[arg(long, env = "LIANDONG_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: i64,
    /// Failed sign-ins that lock an account...
    #[arg(long, env = "LIANDONG_LOCKOUT_THRESHOLD", default_value_t = 5)]
    pub lockout_threshold: i64,
    /// ...within this many minutes...
    #[arg(long, env = "LIANDONG_LOCKOUT_WINDOW_MINUTES", default_value_t = 15)]
    pub lockout_window_minutes: i64,
    /// ...for this many minutes.
    #[arg(long, env = "LIANDONG_LOCKOUT_MINUTES", default_value_t = 30)]
    pub lockout_minutes: i64,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "LIANDONG_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,
    /// Working days a department may appeal a submitted quarterly ranking (0: no window).
    #[arg(long, env = "LIANDONG_APPEAL_DAYS", default_value_t = 3)]
    pub appeal_days: u32,
    /// Days after a risk clue is verified during which comparison runs do not raise it again.
    #[arg(long, env = "LIANDONG_CLUE_QUIET_DAYS", default_value_t = 90)]
    pub clue_quiet_days: u32,
    /// Days a township has to verify a risk clue from a comparison run.
    #[arg(long, env = "LIANDONG_CLUE_VERIFY_DAYS", default_value_t = 15)]
    pub clue_verify_days: u32,
    /// Weight in percent of the office score in a close-type department's quarterly score
    /// (the extended evaluation weighs the rest).
    #[arg(long, env = "LIANDONG_OFFICE_WEIGHT_PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub office_weight_percent: u32,
    /// Quarters running a department must be last in its category to be flagged for the
    /// county-wide bulletin.
    #[arg(long, env = "LIANDONG_LAGGARD_QUARTERS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub laggard_quarters: u32,
    /// Day of the next month by which a month's self-inspection report is due (次月5日前).
    #[arg(long, env = "LIANDONG_REPORT_DEADLINE_DAY", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=28))]
    pub report_deadline_day: u32,
    /// Days before a deadline from which dashboards show a step as due soon.
    #[arg(long, env = "LIANDONG_DUE_SOON_DAYS", default_value_t = 3, value_parser = clap::value_parser!(i64).range(0..=60))]
    pub due_soon_days: i64,
    /// Master key of personal data, 64 hex digits; without it the key file `liandong.key`
    /// in the data directory is used (created on first start). Back it up apart from the data.
    #[arg(long, env = "LIANDONG_DATA_KEY", hide_env_values = true)]
    pub data_key: Option<String>,
    /// Hours a receiving unit has to sign for a warning.
    #[arg(long, env = "LIANDONG_WARNING_SIGN_HOURS", default_value_t = 24, value_parser = clap::value_parser!(i64).range(0..=720))]
    pub warning_sign_hours: i64,
    /// Hours the township has to verify a warning.
    #[arg(long, env = "LIANDONG_WARNING_VERIFY_HOURS", default_value_t = 72, value_parser = clap::value_parser!(i64).range(0..=2160))]
    pub warning_verify_hours: i64,
    /// WeCom (企业微信) group robot webhook URL warnings are forwarded to.
    #[arg(long, env = "LIANDONG_WECOM_WEBHOOK")]
    pub wecom_webhook: Option<String>,
    /// DingTalk (钉钉) group robot webhook URL warnings are forwarded to.
    #[arg(long, env = "LIANDONG_DINGTALK_WEBHOOK")]
    pub dingtalk_webhook: Option<String>,
    /// Password of the first administrator `admin`; generated and printed once if unset.
    #[arg(long, env = "LIANDONG_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input, or generated and printed.
    Add {
        username: String,
        /// office_admin, office_staff, department, township, leader, verifier, taskforce, auditor
        #[arg(long)]
        role: Role,
        /// Department or township (name or id), repeatable.
        #[arg(long = "unit")]
        units: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (read from standard input, or generated and printed); it must be
    /// changed at the next sign-in.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lock an account.
    Lock {
        username: String,
        /// Minutes (default: one year).
        #[arg(long, default_value_t = 525_600)]
        minutes: i64,
    },
    /// Unlock an account and clear its failed sign-ins.
    Unlock { username: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the operation log; names the first bad entry.
    Verify,
}

impl Global {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        if self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2 {
            bail!("argon2 参数过低：内存至少 19456 KiB，迭代至少 2 次");
        }
        let mut s = Settings::with_data_dir(self.data_dir.clone());
        s.password_policy = PasswordPolicy {
            min_length: self.password_min_length.max(8),
            min_classes: self.password_min_classes.clamp(1, 4),
        };
        s.password_max_age_days = self.password_max_age_days;
        s.argon2_memory_kib = self.argon2_memory_kib;
        s.argon2_iterations = self.argon2_iterations;
        Ok(s)
    }
}

impl ServeArgs {
    pub fn apply(&self, s: &mut Settings) {
        s.addr = self.addr;
        s.demo = self.demo;
        s.secure_cookies = self.secure_cookies;
        s.session_idle_minutes = self.session_idle_minutes.max(1);
        s.lockout_threshold = self.lockout_threshold.max(1);
        s.lockout_window_minutes = self.lockout_window_minutes.max(1);
        s.lockout_minutes = self.lockout_minutes.max(1);
        s.body_limit_bytes = self.body_limit_bytes.max(1024);
        s.appeal_days = self.appeal_days.min(30);
        s.clue_quiet_days = self.clue_quiet_days.min(3650);
        s.clue_verify_days = self.clue_verify_days.clamp(1, 365);
        s.laggard_quarters = self.laggard_quarters;
        s.report_deadline =
            liandong_domain::deadline::MonthlyReportDeadline::new(self.report_deadline_day)
                .unwrap_or_default();
        s.due_soon_days = self.due_soon_days;
        s.data_key = self.data_key.clone();
        s.warning_sign_hours = self.warning_sign_hours;
        s.warning_verify_hours = self.warning_verify_hours;
        s.wecom_webhook = self.wecom_webhook.clone().filter(|u| !u.trim().is_empty());
        s.dingtalk_webhook = self
            .dingtalk_webhook
            .clone()
            .filter(|u| !u.trim().is_empty());
        s.weights =
            liandong_domain::scoring::Weights::new(self.office_weight_percent).unwrap_or_default();
    }
}

/// Opens (creating and migrating) the database of `settings`, seeding the registry.
pub async fn open(settings: &Settings) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("无法创建数据目录 {}", settings.data_dir.display()))?;
    let store = Store::open_sqlite(&settings.database_path()).await?;
    let now = chrono::Utc::now().timestamp();
    store.seed_registry(now).await?;
    store.seed_rules(now).await?;
    Ok(store)
}

/// First start and demo data; returns the generated admin password, if one was generated.
pub async fn prepare(app: &App, admin_password: Option<&str>) -> anyhow::Result<Option<String>> {
    let now = chrono::Utc::now();
    if !app.settings.demo && app.store.meta("demo").await?.as_deref() == Some("1") {
        bail!(
            "数据目录 {} 中是演示数据库（含公开密码的演示账号），不能作为正式数据使用：请加 --demo 启动，或换用新的数据目录",
            app.settings.data_dir.display()
        );
    }
    let generated = app.ensure_admin(admin_password, now).await?;
    app.seed_warning_routes(now).await?;
    if app.settings.demo {
        app.load_demo(now).await?;
    }
    Ok(generated)
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("无法从标准输入读取密码")?;
        Ok((s.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((generate_password(), true))
    }
}

async fn resolve_units(store: &Store, names: &[String]) -> anyhow::Result<Vec<i64>> {
    let units = store.units().await?;
    names
        .iter()
        .map(|n| {
            units
                .iter()
                .find(|u| u.name == *n || u.id.to_string() == *n)
                .map(|u| u.id)
                .with_context(|| format!("单位“{n}”不存在"))
        })
        .collect()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = cli.global.settings()?;
    match cli.command {
        Command::Serve(args) => {
            args.apply(&mut settings);
            let store = open(&settings).await?;
            let app = App::new(store, settings);
            if let Some(p) = prepare(&app, args.admin_password.as_deref()).await? {
                println!("已创建管理员账号 admin，初始密码（仅显示这一次，首次登录须修改）：{p}");
            }
            let listener = tokio::net::TcpListener::bind(app.settings.addr)
                .await
                .with_context(|| format!("无法监听地址 {}", app.settings.addr))?;
            let addr = listener.local_addr()?;
            println!(
                "liandong 已启动：http://{addr}/{}",
                if app.settings.demo {
                    "（演示模式）"
                } else {
                    ""
                }
            );
            liandong_web::serve(listener, app).await?;
            Ok(())
        }
        Command::User(cmd) => {
            let app = App::new(open(&settings).await?, settings);
            let actor = Actor::system("cli");
            let now = chrono::Utc::now();
            match cmd {
                UserCommand::Add {
                    username,
                    role,
                    units,
                    name,
                    password_stdin,
                } => {
                    let units = resolve_units(&app.store, &units).await?;
                    let (password, generated) = read_password(password_stdin)?;
                    let req = CreateUser {
                        display_name: name.unwrap_or_else(|| username.clone()),
                        username,
                        role,
                        password: password.clone(),
                        units,
                        must_change_password: true,
                    };
                    let u = app.create_user(&actor, req, now).await?;
                    println!("已创建用户 {}（{}）", u.username, u.role.label());
                    if generated {
                        println!("初始密码（首次登录须修改）：{password}");
                    }
                }
                UserCommand::Passwd {
                    username,
                    password_stdin,
                } => {
                    let u = app
                        .store
                        .user_by_username(&username)
                        .await?
                        .with_context(|| format!("用户“{username}”不存在"))?;
                    let (password, generated) = read_password(password_stdin)?;
                    app.reset_password(&actor, u.id, &password, true, now)
                        .await?;
                    println!("已重置用户 {} 的密码，下次登录须修改", u.username);
                    if generated {
                        println!("新密码：{password}");
                    }
                }
                UserCommand::Lock { username, minutes } => {
                    app.set_lock(&actor, &username, minutes.max(1), now).await?;
                    println!("已锁定用户 {username}");
                }
                UserCommand::Unlock { username } => {
                    app.set_lock(&actor, &username, 0, now).await?;
                    println!("已解锁用户 {username}");
                }
            }
            app.store.close().await;
            Ok(())
        }
        Command::Backup { file } => {
            if file.exists() {
                bail!("目标文件 {} 已存在，请换一个文件名", file.display());
            }
            let store = Store::open_sqlite(&settings.database_path()).await?;
            store.backup_to(&file).await?;
            liandong_store::check_sqlite_file(&file).await?;
            store.close().await;
            println!("已备份到 {}", file.display());
            Ok(())
        }
        Command::Restore { file } => restore(&settings, &file).await,
        Command::Compare(args) => tokio::task::spawn_blocking(move || compare::run(args)).await?,
        Command::Deliver(args) => deliver::run(args).await,
        Command::Audit(AuditCommand::Verify) => {
            let store = Store::open_sqlite(&settings.database_path()).await?;
            let result = store.verify_audit().await?;
            store.close().await;
            match result {
                Ok(n) => {
                    println!("操作日志哈希链完整：共 {n} 条记录");
                    Ok(())
                }
                Err(b) => bail!("操作日志校验失败：{b}"),
            }
        }
    }
}

/// Replaces the database with a checked backup, keeping the current file aside.
async fn restore(settings: &Settings, file: &Path) -> anyhow::Result<()> {
    liandong_store::check_sqlite_file(file).await?;
    let db = settings.database_path();
    std::fs::create_dir_all(&settings.data_dir)?;
    if db.exists() {
        // The write-ahead log holds committed changes too: it moves with the file.
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", db.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}.before-restore-{stamp}{suffix}", db.display()));
                std::fs::rename(&from, &to)
                    .with_context(|| format!("无法移走当前数据库文件 {}", from.display()))?;
                if suffix.is_empty() {
                    println!("原数据库已另存为 {}", to.display());
                }
            }
        }
    }
    std::fs::copy(file, &db).with_context(|| format!("无法写入 {}", db.display()))?;
    let store = Store::open_sqlite(&db).await?;
    let verified = store.verify_audit().await?;
    store.close().await;
    match verified {
        Ok(n) => println!("已从 {} 恢复，操作日志 {n} 条校验通过", file.display()),
        Err(b) => println!("已从 {} 恢复，但操作日志校验失败：{b}", file.display()),
    }
    Ok(())
}
