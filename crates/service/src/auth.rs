//! Sign-in, sessions and passwords: argon2id hashes, lockout after repeated failures, idle
//! expiry, forced change of initial and expired passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use liandong_store::{Actor, LoginOutcome, Scope, SessionRecord, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Result, ServiceError};
use crate::{App, Settings};

/// The signed-in user of a request, with the session it came through.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub session: SessionRecord,
    /// The request's source address, for the operation log.
    pub source: String,
    /// True while the user may do nothing but change the password.
    pub must_change_password: bool,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            username: self.user.username.clone(),
            role: self.user.role.code().to_owned(),
            source: self.source.clone(),
        }
    }

    /// What this user may change: administrators every unit's records, everyone else only
    /// their own units' (reading more, as the office does, gives no right to change).
    pub fn write_scope(&self) -> Scope {
        if self.user.role.administers() {
            Scope::All
        } else {
            self.own_units()
        }
    }

    /// The user's own units, for acts only a unit does for itself (appeals, acknowledgements).
    pub fn own_units(&self) -> Scope {
        Scope::Units(self.user.unit_ids())
    }

    /// What this user may read: everything, or its own units' records.
    pub fn scope(&self) -> Scope {
        if self.user.role.sees_all() {
            Scope::All
        } else {
            Scope::Units(self.user.unit_ids())
        }
    }
}

/// Why a token signs nobody in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// Never issued, signed out, or its user was disabled.
    Unknown,
    /// Idle longer than the session timeout.
    Expired,
}

/// A successful sign-in: the bearer token (also the cookie value) and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
    pub must_change_password: bool,
}

pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Sessions are stored by the hash of their token only.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn argon2(settings: &Settings) -> Result<Argon2<'static>> {
    let params = Params::new(
        settings.argon2_memory_kib,
        settings.argon2_iterations,
        1,
        None,
    )
    .map_err(|e| ServiceError::Internal(format!("argon2 参数无效：{e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// What keeps sign-in safe under load: argon2 runs at most one per core at a time (each
/// takes 19 MiB), attempts on one user name are serialised (so parallel guesses cannot slip
/// past the lockout), and unknown users are checked against one fixed dummy hash (so they
/// cost exactly what known users cost).
#[derive(Debug)]
pub struct Guards {
    hashing: tokio::sync::Semaphore,
    names: Vec<tokio::sync::Mutex<()>>,
    dummy: tokio::sync::OnceCell<String>,
}

impl Guards {
    pub fn new() -> Guards {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Guards {
            hashing: tokio::sync::Semaphore::new(cores),
            names: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    fn stripe(&self, name: &str) -> &tokio::sync::Mutex<()> {
        let h = name.bytes().fold(0_usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.names[h % self.names.len()]
    }
}

impl Default for Guards {
    fn default() -> Self {
        Guards::new()
    }
}

/// Hashes a password with argon2id (off the async runtime: it takes tens of milliseconds).
pub async fn hash_password(settings: &Settings, password: &str) -> Result<String> {
    let hasher = argon2(settings)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("密码哈希失败：{e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

impl App {
    pub(crate) async fn hash_limited(&self, password: &str) -> Result<String> {
        let _permit = self
            .guards
            .hashing
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        hash_password(&self.settings, password).await
    }

    async fn verify_password(&self, hash: Option<String>, password: &str) -> Result<bool> {
        let hash = match hash {
            Some(h) => h,
            None => self
                .guards
                .dummy
                .get_or_try_init(|| self.hash_limited("timing-equaliser"))
                .await?
                .clone(),
        };
        let _permit = self
            .guards
            .hashing
            .acquire()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hasher = argon2(&self.settings)?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
            Ok(parsed) => hasher.verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))
    }
}

/// User names are lowercase ASCII; sign-in accepts any case.
pub fn normalize_username(s: &str) -> String {
    s.trim().to_lowercase()
}

fn password_expired(settings: &Settings, user: &User, now: i64) -> bool {
    settings.password_max_age_days > 0
        && now - user.password_changed_at > settings.password_max_age_days * 86_400
}

impl App {
    /// Signs a user in, recording the attempt in the login log whatever its outcome.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: &str,
        user_agent: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedIn> {
        let s = &self.settings;
        let now = now.timestamp();
        let mut name = normalize_username(username);
        // Only plausible user names reach the database: no huge values, and no password typed
        // into the wrong field kept in the login log.
        if crate::users::check_username(&name).is_err() {
            name = "<无效用户名>".to_owned();
        }
        let ua: String = user_agent.chars().take(200).collect();
        let store = &self.store;
        let _one_at_a_time = self.guards.stripe(&name).lock().await;
        if store.lock_state(&name, now).await?.locked_until.is_some() {
            store
                .record_login_attempt(now, &name, None, source, &ua, LoginOutcome::Locked)
                .await?;
            return Err(ServiceError::TooManyAttempts {
                minutes: s.lockout_minutes,
            });
        }
        let user = store.user_by_username(&name).await?;
        let ok = self
            .verify_password(user.as_ref().map(|u| u.password_hash.clone()), password)
            .await?;
        let user = match (user, ok) {
            (Some(u), true) => u,
            (user, _) => {
                let outcome = if user.is_some() {
                    LoginOutcome::BadPassword
                } else {
                    LoginOutcome::UnknownUser
                };
                store
                    .record_login_attempt(now, &name, user.map(|u| u.id), source, &ua, outcome)
                    .await?;
                store
                    .register_failure(
                        &name,
                        now,
                        s.lockout_window_minutes * 60,
                        s.lockout_threshold,
                        s.lockout_minutes * 60,
                    )
                    .await?;
                return Err(ServiceError::BadCredentials);
            }
        };
        if user.disabled {
            store
                .record_login_attempt(
                    now,
                    &name,
                    Some(user.id),
                    source,
                    &ua,
                    LoginOutcome::Disabled,
                )
                .await?;
            return Err(ServiceError::AccountDisabled);
        }
        store.reset_failures(&name).await?;
        let token = random_token();
        let csrf_token = random_token();
        store
            .create_session(&SessionRecord {
                token_hash: token_hash(&token),
                user_id: user.id,
                csrf_token: csrf_token.clone(),
                created_at: now,
                last_seen_at: now,
                source: source.to_owned(),
                user_agent: ua.clone(),
            })
            .await?;
        store
            .record_login_attempt(
                now,
                &name,
                Some(user.id),
                source,
                &ua,
                LoginOutcome::Success,
            )
            .await?;
        let must_change_password = user.must_change_password || password_expired(s, &user, now);
        Ok(SignedIn {
            token,
            csrf_token,
            user,
            must_change_password,
        })
    }

    /// The principal behind a session token, if the session is alive. Ends idle sessions.
    pub async fn authenticate(
        &self,
        token: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Principal, NoSession>> {
        let now = now.timestamp();
        let hash = token_hash(token);
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(Err(NoSession::Unknown));
        };
        if now - session.last_seen_at > self.settings.session_idle_minutes * 60 {
            self.store.delete_session(&hash).await?;
            return Ok(Err(NoSession::Expired));
        }
        let user = self.store.user(session.user_id).await?;
        if user.disabled {
            self.store.delete_session(&hash).await?;
            return Ok(Err(NoSession::Unknown));
        }
        // Refresh at most once a minute: every request need not be a write.
        if now - session.last_seen_at >= 60 {
            self.store.touch_session(&hash, now).await?;
        }
        let must_change_password =
            user.must_change_password || password_expired(&self.settings, &user, now);
        Ok(Ok(Principal {
            user,
            session,
            source: source.to_owned(),
            must_change_password,
        }))
    }

    /// Ends the session; the login log records the sign-out.
    pub async fn sign_out(&self, p: &Principal, now: DateTime<Utc>) -> Result<()> {
        self.store.delete_session(&p.session.token_hash).await?;
        self.store
            .record_login_attempt(
                now.timestamp(),
                &p.user.username,
                Some(p.user.id),
                &p.source,
                &p.session.user_agent,
                LoginOutcome::SignedOut,
            )
            .await?;
        Ok(())
    }

    /// Changes the signed-in user's own password; other sessions of the user end.
    pub async fn change_password(
        &self,
        p: &Principal,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let name = p.user.username.as_str();
        let _one_at_a_time = self.guards.stripe(name).lock().await;
        let at = now.timestamp();
        if self
            .store
            .lock_state(name, at)
            .await?
            .locked_until
            .is_some()
        {
            return Err(ServiceError::TooManyAttempts {
                minutes: self.settings.lockout_minutes,
            });
        }
        if !self
            .verify_password(Some(p.user.password_hash.clone()), old)
            .await?
        {
            // Guessing the old password through a stolen session counts like a failed sign-in.
            let s = &self.settings;
            self.store
                .record_login_attempt(
                    at,
                    name,
                    Some(p.user.id),
                    &p.source,
                    &p.session.user_agent,
                    LoginOutcome::BadPassword,
                )
                .await?;
            let locked = self
                .store
                .register_failure(
                    name,
                    at,
                    s.lockout_window_minutes * 60,
                    s.lockout_threshold,
                    s.lockout_minutes * 60,
                )
                .await?;
            if locked.is_some() {
                self.store
                    .set_lock(
                        &Actor::system("lockout"),
                        at,
                        name,
                        at + s.lockout_minutes * 60,
                    )
                    .await?;
            }
            return Err(ServiceError::invalid("old_password", "原密码不正确"));
        }
        if old == new {
            return Err(ServiceError::invalid(
                "new_password",
                "新密码不能与原密码相同",
            ));
        }
        self.settings
            .password_policy
            .check(new, &p.user.username, &[&p.user.display_name])
            .map_err(|e| ServiceError::invalid("new_password", e.to_string()))?;
        let hash = self.hash_limited(new).await?;
        self.store
            .set_password(
                &p.actor(),
                now.timestamp(),
                p.user.id,
                &hash,
                false,
                Some(&p.session.token_hash),
            )
            .await?;
        Ok(())
    }
}

/// Constant-time comparison of two tokens.
pub fn tokens_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
