//! Roles (角色) of domain.md §2 and what each may see and do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The two kinds of organisational unit a user can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// 县直行业部门
    Department,
    /// 乡镇
    Township,
}

impl UnitKind {
    pub fn code(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Township => "township",
        }
    }
    pub fn from_code(s: &str) -> Option<UnitKind> {
        match s {
            "department" => Some(UnitKind::Department),
            "township" => Some(UnitKind::Township),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            UnitKind::Department => "部门",
            UnitKind::Township => "乡镇",
        }
    }
}

/// A user's role. The codes are the API's (api.md "Users").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 联动办公室管理员: runs the office and administers users and the registry.
    OfficeAdmin,
    /// 联动办公室工作人员
    OfficeStaff,
    /// 行业部门: works for its own department(s).
    Department,
    /// 乡镇: receives and verifies what concerns its households.
    Township,
    /// 县委/县政府分管领导: approves quarterly rankings.
    Leader,
    /// 核查暗访小组成员
    Verifier,
    /// 县专班办公室: enters the extended evaluation of close-type departments.
    Taskforce,
    /// 纪委监委 (只读): sees everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::OfficeAdmin,
        Role::OfficeStaff,
        Role::Department,
        Role::Township,
        Role::Leader,
        Role::Verifier,
        Role::Taskforce,
        Role::Auditor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::OfficeAdmin => "office_admin",
            Role::OfficeStaff => "office_staff",
            Role::Department => "department",
            Role::Township => "township",
            Role::Leader => "leader",
            Role::Verifier => "verifier",
            Role::Taskforce => "taskforce",
            Role::Auditor => "auditor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::OfficeAdmin => "联动办公室管理员",
            Role::OfficeStaff => "联动办公室工作人员",
            Role::Department => "行业部门",
            Role::Township => "乡镇",
            Role::Leader => "分管领导",
            Role::Verifier => "核查暗访小组",
            Role::Taskforce => "县专班办公室",
            Role::Auditor => "纪委监委（只读）",
        }
    }

    /// The kind of unit a user of this role must be bound to, if any.
    pub fn unit_kind(self) -> Option<UnitKind> {
        match self {
            Role::Department => Some(UnitKind::Department),
            Role::Township => Some(UnitKind::Township),
            _ => None,
        }
    }

    /// Whether the role reads every unit's records (the office, leaders, verification team,
    /// task-force office and auditors); department and township users see only their units'.
    pub fn sees_all(self) -> bool {
        self.unit_kind().is_none()
    }

    /// Whether the role changes nothing at all.
    pub fn read_only(self) -> bool {
        matches!(self, Role::Auditor)
    }

    pub fn is_office(self) -> bool {
        matches!(self, Role::OfficeAdmin | Role::OfficeStaff)
    }

    /// Administers users, the department registry and townships.
    pub fn administers(self) -> bool {
        matches!(self, Role::OfficeAdmin)
    }

    /// Reads the operation and login logs.
    pub fn reads_audit(self) -> bool {
        matches!(self, Role::OfficeAdmin | Role::Auditor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知角色“{0}”，可选：office_admin、office_staff、department、township、leader、verifier、taskforce、auditor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for r in Role::ALL {
            assert_eq!(r.code().parse::<Role>(), Ok(r));
            assert_eq!(
                serde_json::to_string(&r).expect("json"),
                format!("\"{}\"", r.code())
            );
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn only_unit_roles_are_scoped() {
        let scoped: Vec<_> = Role::ALL.into_iter().filter(|r| !r.sees_all()).collect();
        assert_eq!(scoped, [Role::Department, Role::Township]);
        assert_eq!(Role::Township.unit_kind(), Some(UnitKind::Township));
    }

    #[test]
    fn auditors_read_everything_and_change_nothing() {
        assert!(
            Role::Auditor.sees_all() && Role::Auditor.read_only() && Role::Auditor.reads_audit()
        );
        assert!(!Role::OfficeStaff.reads_audit());
        assert!(Role::ALL
            .into_iter()
            .filter(|r| r.administers())
            .eq([Role::OfficeAdmin]));
    }
}
