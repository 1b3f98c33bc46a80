//! The pure domain core of liandong (联动): the rules of the county "5+2" linkage mechanism,
//! with no I/O. Every function that depends on the date takes it as an argument.

pub mod audit;
pub mod deadline;
pub mod id_number;
pub mod mask;
pub mod monthly;
pub mod password;
pub mod period;
pub mod registry;
pub mod role;
pub mod roster;
pub mod scoring;

use serde::{Deserialize, Serialize};

pub use id_number::{IdKey, IdNumber, IdNumberError};
pub use period::{Month, Period, PeriodError, Quarter, Year};
pub use role::{Role, UnitKind};

/// The three categories of member departments (附件1-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// 紧密型部门 (9): inspect townships, ranked monthly and quarterly.
    Close,
    /// 相关部门 (15).
    Related,
    /// 紧急预警部门 (2).
    Emergency,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Close, Category::Related, Category::Emergency];

    /// The stable code used by the API (`close`, `related`, `emergency`).
    pub fn code(self) -> &'static str {
        match self {
            Category::Close => "close",
            Category::Related => "related",
            Category::Emergency => "emergency",
        }
    }

    pub fn from_code(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The name the work plan gives the category.
    pub fn label(self) -> &'static str {
        match self {
            Category::Close => "紧密型部门",
            Category::Related => "相关部门",
            Category::Emergency => "紧急预警部门",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::DEPARTMENTS;

    #[test]
    fn registry_has_nine_fifteen_two() {
        let count = |c| DEPARTMENTS.iter().filter(|d| d.category == c).count();
        assert_eq!(count(Category::Close), 9);
        assert_eq!(count(Category::Related), 15);
        assert_eq!(count(Category::Emergency), 2);
    }

    #[test]
    fn registry_codes_and_names_are_unique_and_duties_present() {
        let mut codes: Vec<_> = DEPARTMENTS.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 26);
        let mut names: Vec<_> = DEPARTMENTS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 26);
        assert!(DEPARTMENTS.iter().all(|d| !d.duties.is_empty()));
        let total: usize = DEPARTMENTS.iter().map(|d| d.duties.len()).sum();
        assert_eq!(total, 118);
    }

    #[test]
    fn financial_bodies_share_one_duty_list() {
        let find = |n: &str| DEPARTMENTS.iter().find(|d| d.name == n).map(|d| d.duties);
        let a = find("县金融工作局");
        assert!(a.is_some());
        assert_eq!(a, find("南召银保监分局"));
        assert_eq!(a, find("人行南召县支行"));
    }

    #[test]
    fn category_codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(c));
        }
        assert_eq!(Category::from_code("other"), None);
    }
}
