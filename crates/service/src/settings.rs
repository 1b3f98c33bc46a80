//! Every setting of the platform. The binary fills this from flags and `LIANDONG_*`
//! environment variables; defaults are the ones domain.md and the security review name.

use std::net::SocketAddr;
use std::path::PathBuf;

use liandong_domain::deadline::MonthlyReportDeadline;
use liandong_domain::password::PasswordPolicy;
use liandong_domain::scoring::Weights;

#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Mark the session cookie `Secure` and give it the `__Host-` prefix (behind TLS).
    pub secure_cookies: bool,
    /// Minutes of inactivity after which a session ends.
    pub session_idle_minutes: i64,
    /// Failed sign-ins within the window that lock a user name.
    pub lockout_threshold: i64,
    pub lockout_window_minutes: i64,
    pub lockout_minutes: i64,
    pub password_policy: PasswordPolicy,
    /// Days after which a password must be changed; 0 means never.
    pub password_max_age_days: i64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Fill an empty database with the synthetic demo county.
    pub demo: bool,
    /// Working days a department may appeal a submitted ranking; 0 means no appeal window.
    pub appeal_days: u32,
    /// Days after a clue is verified during which comparison runs do not raise it again.
    pub clue_quiet_days: u32,
    /// Days a township has to verify a risk clue from a comparison run.
    pub clue_verify_days: u32,
    /// How the office score and the extended evaluation combine for close-type departments.
    pub weights: Weights,
    /// Quarters running a department must be last in its category to be flagged for the
    /// county-wide bulletin.
    pub laggard_quarters: u32,
    /// The day of the next month by which a month's self-inspection report is due (次月5日前).
    pub report_deadline: MonthlyReportDeadline,
    /// Days before a deadline from which a step shows as due soon on dashboards.
    pub due_soon_days: i64,
    /// The master key of personal data (64 hex digits); the key file beside the database
    /// when unset.
    pub data_key: Option<String>,
    /// Hours a receiving unit has to sign for a warning (签收).
    pub warning_sign_hours: i64,
    /// Hours the township has to verify a warning (核实).
    pub warning_verify_hours: i64,
    /// WeCom (企业微信) group robot webhook URL that warnings are forwarded to.
    pub wecom_webhook: Option<String>,
    /// DingTalk (钉钉) group robot webhook URL that warnings are forwarded to.
    pub dingtalk_webhook: Option<String>,
}

impl Settings {
    /// The defaults, with data under `data_dir`.
    pub fn with_data_dir(data_dir: PathBuf) -> Settings {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir,
            secure_cookies: false,
            session_idle_minutes: 30,
            lockout_threshold: 5,
            lockout_window_minutes: 15,
            lockout_minutes: 30,
            password_policy: PasswordPolicy::default(),
            password_max_age_days: 90,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            body_limit_bytes: 1024 * 1024,
            demo: false,
            appeal_days: 3,
            clue_quiet_days: 90,
            clue_verify_days: 15,
            weights: Weights::default(),
            laggard_quarters: 2,
            report_deadline: MonthlyReportDeadline::default(),
            due_soon_days: 3,
            data_key: None,
            warning_sign_hours: 24,
            warning_verify_hours: 72,
            wecom_webhook: None,
            dingtalk_webhook: None,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("liandong.sqlite3")
    }
}
