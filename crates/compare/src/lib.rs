//! Cross-department data comparison (信息比对): departments' data sets joined with the roster
//! of 脱贫户 and 监测对象 to find risk clues (风险线索).
//!
//! A library with no database and no web: the server and the `liandong compare` command both
//! use it, and it can be measured alone. Rules are data ([`rules`]), so the office edits them
//! each policy year without a new release.

pub mod engine;
pub mod fuzzy;
pub mod key_index;
pub mod kinds;
pub mod load;
mod mapped;
pub mod output;
pub mod roster;
pub mod rules;
pub mod synth;

pub use engine::{township_by_address, Clue, ClueKey, Decided, MatchMethod, Run, RunReport};
pub use kinds::DataKind;
pub use load::{load, load_paths, Dataset, LoadError};
pub use roster::{
    parse_roster, parse_roster_keeping, read_roster, read_roster_path, KeptRow, MemberRow, Roster,
    RosterFileError, RosterRow, RosterRows,
};
pub use rules::RuleSet;
