//! Accounts: creation with role and units, changes, password resets, locks, and the first
//! administrator.

use chrono::{DateTime, Utc};
use liandong_domain::Role;
use liandong_store::{Actor, NewUser, User, UserChanges};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::auth::normalize_username;
use crate::error::{Result, ServiceError};
use crate::App;

/// The longest lock an administrator can set: ten years.
pub const MAX_LOCK_MINUTES: i64 = 10 * 525_600;

/// A request to create an account, as parsed at the boundary.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
    pub units: Vec<i64>,
    /// Ask the user to choose a new password at the first sign-in.
    pub must_change_password: bool,
}

/// Checks a user name: 2 to 32 lowercase letters, digits, `_`, `.` or `-`.
pub fn check_username(s: &str) -> Result<String> {
    let name = normalize_username(s);
    let ok = (2..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(ServiceError::invalid(
            "username",
            "用户名须为 2-32 位小写字母、数字或 _ . -",
        ))
    }
}

/// A random password that satisfies the default policy, for the first administrator.
pub fn generate_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"#%+=@";
    let mut rng = rand::thread_rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL]
        .iter()
        .map(|set| set[rng.gen_range(0..set.len())])
        .collect();
    while chars.len() < 16 {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    String::from_utf8(chars).unwrap_or_default()
}

impl App {
    /// Checks that `units` exist and are of the kind the role needs (a department user is bound
    /// to departments, a township user to townships; other roles to none).
    async fn check_units(&self, role: Role, units: &[i64]) -> Result<Vec<i64>> {
        let all = self.store.units().await?;
        let mut ids = units.to_vec();
        ids.sort_unstable();
        ids.dedup();
        match role.unit_kind() {
            None if !ids.is_empty() => Err(ServiceError::invalid(
                "units",
                format!("角色“{}”查看全部单位的数据，不绑定单位", role.label()),
            )),
            None => Ok(ids),
            Some(kind) => {
                if ids.is_empty() {
                    return Err(ServiceError::invalid(
                        "units",
                        format!("角色“{}”须至少绑定一个{}", role.label(), kind.label()),
                    ));
                }
                for id in &ids {
                    match all.iter().find(|u| u.id == *id) {
                        Some(u) if u.kind == kind => {}
                        Some(u) => {
                            return Err(ServiceError::invalid(
                                "units",
                                format!(
                                    "“{}”不是{}，不能绑定给角色“{}”",
                                    u.name,
                                    kind.label(),
                                    role.label()
                                ),
                            ))
                        }
                        None => {
                            return Err(ServiceError::invalid("units", format!("单位 {id} 不存在")))
                        }
                    }
                }
                Ok(ids)
            }
        }
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        req: CreateUser,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let username = check_username(&req.username)?;
        let display_name = req.display_name.trim().to_owned();
        let display_name = if display_name.is_empty() {
            username.clone()
        } else {
            display_name
        };
        if display_name.chars().count() > 50 {
            return Err(ServiceError::invalid("display_name", "姓名最多 50 个字符"));
        }
        self.settings
            .password_policy
            .check(&req.password, &username, &[&display_name])
            .map_err(|e| ServiceError::invalid("password", e.to_string()))?;
        let units = self.check_units(req.role, &req.units).await?;
        let password_hash = self.hash_limited(&req.password).await?;
        Ok(self
            .store
            .create_user(
                actor,
                now.timestamp(),
                &NewUser {
                    username,
                    display_name,
                    role: req.role,
                    password_hash,
                    must_change_password: req.must_change_password,
                    units,
                },
            )
            .await?)
    }

    /// Changes role, units, name or the disabled flag. An administrator cannot disable or
    /// demote themselves, so the office always keeps one administrator able to act.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        mut changes: UserChanges,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let current = self.store.user(id).await?;
        if actor.user_id == Some(id)
            && (changes.disabled == Some(true) || changes.role.is_some_and(|r| r != current.role))
        {
            return Err(ServiceError::Forbidden(
                "不能停用自己的账号或修改自己的角色".into(),
            ));
        }
        let role = changes.role.unwrap_or(current.role);
        if changes.role.is_some() || changes.units.is_some() {
            let units = changes.units.clone().unwrap_or_else(|| current.unit_ids());
            changes.units = Some(self.check_units(role, &units).await?);
        }
        if let Some(name) = &changes.display_name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 50 {
                return Err(ServiceError::invalid(
                    "display_name",
                    "姓名须为 1-50 个字符",
                ));
            }
            changes.display_name = Some(name.to_owned());
        }
        Ok(self
            .store
            .update_user(actor, now.timestamp(), id, &changes)
            .await?)
    }

    /// An administrator sets a new password; the user must change it at the next sign-in.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        id: i64,
        password: &str,
        must_change: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let user = self.store.user(id).await?;
        self.settings
            .password_policy
            .check(password, &user.username, &[&user.display_name])
            .map_err(|e| ServiceError::invalid("password", e.to_string()))?;
        let hash = self.hash_limited(password).await?;
        self.store
            .set_password(actor, now.timestamp(), id, &hash, must_change, None)
            .await?;
        Ok(())
    }

    /// Locks a user name for `minutes` (0 unlocks it, clearing counted failures).
    pub async fn set_lock(
        &self,
        actor: &Actor,
        username: &str,
        minutes: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let name = normalize_username(username);
        if !(0..=MAX_LOCK_MINUTES).contains(&minutes) {
            return Err(ServiceError::invalid(
                "minutes",
                format!("锁定时长须为 0 到 {MAX_LOCK_MINUTES} 分钟"),
            ));
        }
        if self.store.user_by_username(&name).await?.is_none() {
            return Err(ServiceError::NotFound(format!("用户“{name}”不存在")));
        }
        let now = now.timestamp();
        let until = if minutes > 0 { now + minutes * 60 } else { 0 };
        Ok(self.store.set_lock(actor, now, &name, until).await?)
    }

    /// On first start with no users: creates `admin` (office administrator) with `password`,
    /// or with a generated one that must be changed at the first sign-in. Returns the
    /// generated password, to be printed once.
    pub async fn ensure_admin(
        &self,
        password: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None => (generate_password(), true),
        };
        self.settings
            .password_policy
            .check(&password, "admin", &[])
            .map_err(|e| {
                ServiceError::invalid(
                    "LIANDONG_ADMIN_PASSWORD",
                    format!("LIANDONG_ADMIN_PASSWORD 不符合密码策略：{e}"),
                )
            })?;
        self.create_user(
            &Actor::system("startup"),
            CreateUser {
                username: "admin".into(),
                display_name: "系统管理员".into(),
                role: Role::OfficeAdmin,
                password: password.clone(),
                units: vec![],
                must_change_password: generated,
            },
            now,
        )
        .await?;
        Ok(generated.then_some(password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_domain::password::PasswordPolicy;

    #[test]
    fn generated_passwords_meet_the_policy() {
        for _ in 0..200 {
            let p = generate_password();
            assert_eq!(
                PasswordPolicy::default().check(&p, "admin", &[]),
                Ok(()),
                "{p}"
            );
        }
    }

    #[test]
    fn usernames_are_lowercase_ascii() {
        assert_eq!(
            check_username(" Zhang.Wei ").ok(),
            Some("zhang.wei".to_owned())
        );
        assert!(check_username("张伟").is_err());
        assert!(check_username("a").is_err());
        assert!(check_username("has space").is_err());
    }
}
