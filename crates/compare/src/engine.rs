//! Running rules over the roster and the data sets: exact matches on the normalised ID rolled
//! up to households, absences (anti-joins), and sums over a window; each finding becomes a
//! clue that carries the rows and values behind it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use liandong_domain::id_number::IdKey;

use crate::fuzzy::{FuzzyIndex, Resolution};
use crate::kinds::{DataKind, FieldType};
use crate::load::{
    format_day, format_fen, push_day, push_fen, ColumnData, Dataset, NormalisationReport, Part,
};
use crate::roster::{Roster, RosterHousehold};
use crate::rules::{Filter, Finding, Per, Population, Pred, Rule, RuleSet, Severity, Test};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;
/// A row that counts for a rule: (person or key, part, row).
type Hit<T> = (T, u32, u32);

/// How a clue's person was found in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMethod {
    /// The file's ID number was canonical as given.
    Exact,
    /// It matched after normalisation (spaces, full width, `x`, 15 digits).
    Normalized,
    /// It matched by name, birth date and place, with a confidence.
    Fuzzy,
}

impl MatchMethod {
    /// The code in exports (api.md): `exact`, `normalized`, `fuzzy`.
    pub fn code(self) -> &'static str {
        match self {
            MatchMethod::Exact => "exact",
            MatchMethod::Normalized => "normalized",
            MatchMethod::Fuzzy => "fuzzy",
        }
    }
}

/// A person a clue is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub key: IdKey,
    pub name: String,
    pub method: MatchMethod,
    pub confidence: f32,
}

/// A row behind a clue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRef {
    /// Shared with the part: a clue can stand on thousands of rows.
    pub source: std::sync::Arc<str>,
    pub row: u32,
}

/// A risk clue (风险线索): what rule found it, about whom, and why, in words a township
/// officer reads without knowing the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Clue {
    pub rule: String,
    pub title: String,
    pub finding: Finding,
    pub severity: Severity,
    /// The roster household, when the people are in the roster.
    pub household_no: Option<String>,
    pub township: Option<String>,
    pub village: Option<String>,
    /// The division code of the first subject's ID number: where a clue about someone not in
    /// the roster is routed.
    pub region: u32,
    pub subjects: Vec<Subject>,
    /// The values against the thresholds and the rows, in Chinese.
    pub evidence: String,
    pub rows: Vec<RowRef>,
    /// Registry codes of the departments the clue goes to.
    pub departments: Vec<String>,
    pub to_township: bool,
    /// Whether the clue is about its people one by one or about their household.
    pub per: Per,
}

/// What identifies a clue across runs: an open clue is not raised again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClueKey {
    pub rule: String,
    /// The household number for a household's clue, the 17-digit ID key for a person's.
    pub subject: String,
}

impl Clue {
    pub fn key(&self) -> ClueKey {
        ClueKey {
            rule: self.rule.clone(),
            subject: match (&self.household_no, self.per) {
                (Some(h), Per::Household) => h.clone(),
                _ => self.subjects.first().map_or(0, |s| s.key.get()).to_string(),
            },
        }
    }
}

/// One rule's outcome in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    pub code: String,
    pub clues: usize,
    /// Clues found again while still open, not raised twice.
    pub already_open: usize,
    /// Why the rule did not run (a data set it needs was not supplied).
    pub skipped: Option<String>,
}

/// What a run did, for the summary and the run report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunReport {
    pub roster_persons: usize,
    pub roster_households: usize,
    pub datasets: Vec<(DataKind, NormalisationReport)>,
    /// Rows whose ID, as given, is a roster member's.
    pub matched_exact: u64,
    /// Rows that matched a roster member only after normalisation.
    pub matched_normalized: u64,
    /// Rows whose ID failed, matched by the fuzzy fallback with enough confidence.
    pub matched_fuzzy: u64,
    /// Rows whose ID failed and that found no sure candidate.
    pub unmatched_failed: u64,
    /// Rows for a person to confirm or reject, with their candidates.
    pub review: Vec<ReviewItem>,
    pub rules: Vec<RuleOutcome>,
}

/// A row whose ID failed and that fits some roster members without certainty.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    pub kind: DataKind,
    pub source: String,
    pub row: u32,
    /// The ID as the file gives it.
    pub raw_id: String,
    pub name: String,
    /// Best first: key, name, household number, confidence.
    pub candidates: Vec<(IdKey, String, String, f32)>,
}

/// What a run reads.
pub struct Run<'a> {
    pub roster: &'a Roster,
    pub datasets: &'a [Dataset],
    pub rules: &'a RuleSet,
    /// The reference date: windows end on it, ages are counted on it.
    pub as_of: NaiveDate,
    /// Clues still open from earlier runs.
    pub open: &'a HashSet<ClueKey>,
    /// Try the fuzzy fallback on rows whose ID failed (off: exact and normalised matches only).
    pub fuzzy: bool,
    /// What a person decided earlier about a row (its ID as given, its name) that the
    /// fallback could not settle: confirmed rows match that member, rejected ones are not
    /// put up for review again.
    pub decided: Option<&'a DecisionLookup<'a>>,
}

/// Looks up a person's earlier decision by the row's data kind, its ID as given and its name.
pub type DecisionLookup<'a> = dyn Fn(DataKind, &str, &str) -> Decided + Sync + 'a;

/// A person's earlier decision on a row whose ID failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Undecided,
    /// The row is this roster member.
    Confirmed(IdKey),
    /// The row is none of the candidates.
    Rejected,
}

impl Run<'_> {
    /// Runs every rule; `progress(done, total)` is called after each.
    pub fn execute(&self, progress: &mut dyn FnMut(usize, usize)) -> (Vec<Clue>, RunReport) {
        let mut report = RunReport {
            roster_persons: self.roster.persons.len(),
            roster_households: self.roster.households.len(),
            ..RunReport::default()
        };
        // Each row's roster member, looked up once for every rule; rows whose ID failed are
        // tried by the fuzzy fallback.
        let index = self.fuzzy.then(|| FuzzyIndex::new(self.roster));
        let mut joins = Vec::with_capacity(self.datasets.len());
        for ds in self.datasets {
            report.datasets.push((ds.kind, ds.report.clone()));
            let (mut join, exact, normalized) = self.join(ds);
            report.matched_exact += exact;
            report.matched_normalized += normalized;
            let name_col = ds.kind.column("name").map(|(i, _)| i);
            let resolved = index
                .as_ref()
                .map_or_else(Vec::new, |i| i.resolve_dataset(ds));
            for (pi, row, mut resolution) in resolved {
                if let (Some(decided), Resolution::Review(_) | Resolution::Unmatched) =
                    (self.decided, &resolution)
                {
                    let part = &ds.parts[pi as usize];
                    let raw = part
                        .failed_ids
                        .iter()
                        .find(|f| f.0 == row)
                        .map(|f| f.1.as_str());
                    let name = name_col.and_then(|c| part.text(c, row as usize));
                    match decided(ds.kind, raw.unwrap_or_default(), name.unwrap_or_default()) {
                        Decided::Confirmed(key) => {
                            if let Some(person) = self.roster.person(key.get()) {
                                // A person's word, not proof: as sure as the surest fallback.
                                resolution = Resolution::Matched(crate::fuzzy::Candidate {
                                    person,
                                    confidence: crate::fuzzy::ACCEPT,
                                });
                            }
                        }
                        Decided::Rejected => resolution = Resolution::Unmatched,
                        Decided::Undecided => {}
                    }
                }
                match resolution {
                    Resolution::Matched(c) => {
                        report.matched_fuzzy += 1;
                        join.persons[pi as usize][row as usize] = c.person;
                        join.fuzzy.insert((pi, row), c.confidence);
                    }
                    Resolution::Review(candidates) => {
                        let part = &ds.parts[pi as usize];
                        report.review.push(ReviewItem {
                            kind: ds.kind,
                            source: part.source.to_string(),
                            row: part.row_no.get(row as usize),
                            raw_id: part
                                .failed_ids
                                .iter()
                                .find(|f| f.0 == row)
                                .map(|f| f.1.clone())
                                .unwrap_or_default(),
                            name: name_col
                                .and_then(|c| part.text(c, row as usize))
                                .unwrap_or_default()
                                .to_owned(),
                            candidates: candidates
                                .iter()
                                .map(|c| {
                                    let h = self.roster.household_of(c.person);
                                    (
                                        self.roster.persons[c.person as usize].key,
                                        self.roster.name(c.person).to_owned(),
                                        h.household_no.clone(),
                                        c.confidence,
                                    )
                                })
                                .collect(),
                        });
                    }
                    Resolution::Unmatched => report.unmatched_failed += 1,
                }
            }
            joins.push(join);
        }
        let mut clues = Vec::new();
        let total = self.rules.rules.len();
        for (i, rule) in self.rules.rules.iter().enumerate() {
            let mut outcome = RuleOutcome {
                code: rule.code.clone(),
                clues: 0,
                already_open: 0,
                skipped: None,
            };
            match self.run_rule(rule, &joins) {
                Ok(found) => {
                    for c in found {
                        // A clue's key is built (two strings) only when some clue is open.
                        if !self.open.is_empty() && self.open.contains(&c.key()) {
                            outcome.already_open += 1;
                        } else {
                            outcome.clues += 1;
                            clues.push(c);
                        }
                    }
                }
                Err(why) => outcome.skipped = Some(why),
            }
            report.rules.push(outcome);
            progress(i + 1, total);
        }
        (clues, report)
    }

    fn dataset(&self, kind: DataKind) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.kind == kind)
    }

    /// The roster member of every row ([`NOBODY`] when none), and how many rows matched as
    /// given and after normalisation.
    fn join(&self, ds: &Dataset) -> (Join, u64, u64) {
        let parts = on_parts(&ds.parts, |_, part| {
            let persons = self.roster.people(&part.ids, |id| id.raw_key());
            let (mut exact, mut normalized) = (0, 0);
            for (id, &p) in part.ids.iter().zip(&persons) {
                if p != NOBODY {
                    if id.normalised() {
                        normalized += 1;
                    } else {
                        exact += 1;
                    }
                }
            }
            (persons, exact, normalized)
        });
        let mut join = Join {
            persons: Vec::with_capacity(parts.len()),
            fuzzy: FastMap::default(),
        };
        let (mut exact, mut normalized) = (0, 0);
        for (p, e, n) in parts {
            join.persons.push(p);
            exact += e;
            normalized += n;
        }
        (join, exact, normalized)
    }

    fn run_rule(&self, rule: &Rule, joins: &[Join]) -> Result<Vec<Clue>, String> {
        let index = self
            .datasets
            .iter()
            .position(|d| d.kind == rule.data)
            .ok_or_else(|| format!("未提供“{}”数据", rule.data.label()))?;
        let (data, join) = (&self.datasets[index], &joins[index]);
        let ctx = Ctx {
            as_of: self.as_of.num_days_from_ce(),
            year: i64::from(self.as_of.year()),
        };
        match (rule.test, &rule.population) {
            (Test::Match, Population::NotInRoster) => {
                Ok(self.match_outsiders(rule, data, join, &ctx))
            }
            (Test::Match, _) => Ok(self.match_roster(rule, data, join, &ctx)),
            // Absent from data that holds nobody usable would be everyone: not run.
            (Test::Absence, _)
                if data.report.rows == data.report.failed_total() && join.fuzzy.is_empty() =>
            {
                Err(format!("“{}”数据中没有身份证号可用的行", rule.data.label()))
            }
            (Test::Absence, Population::Data { kind, filters }) => {
                let pop = self
                    .dataset(*kind)
                    .ok_or_else(|| format!("未提供“{}”数据", kind.label()))?;
                Ok(self.absent_from_data(rule, data, join, pop, filters, &ctx))
            }
            (Test::Absence, _) => self.absent_roster(rule, data, join, &ctx),
        }
    }

    /// Which roster members a rule's population holds; `None` when it holds them all.
    fn population_mask(&self, rule: &Rule) -> Option<Vec<bool>> {
        match &rule.population {
            Population::Roster {
                kinds,
                min_age,
                max_age,
            } if !kinds.is_empty() || min_age.is_some() || max_age.is_some() => Some(
                (0..self.roster.persons.len() as u32)
                    .map(|p| self.in_population(rule, p))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn in_population(&self, rule: &Rule, person: u32) -> bool {
        match &rule.population {
            Population::Roster {
                kinds,
                min_age,
                max_age,
            } => {
                let p = &self.roster.persons[person as usize];
                let age = p.key.age_on(self.as_of);
                (kinds.is_empty() || kinds.contains(&self.roster.household_of(person).kind))
                    && min_age.is_none_or(|m| age >= i32::from(m))
                    && max_age.is_none_or(|m| age <= i32::from(m))
            }
            _ => true,
        }
    }

    /// Match rules on roster members: hits, sums, then one clue per person or household.
    fn match_roster(&self, rule: &Rule, data: &Dataset, join: &Join, ctx: &Ctx) -> Vec<Clue> {
        let mask = self.population_mask(rule);
        // (person, part, row) of every row that counts, a list per part: millions of them
        // at times, so neither grown from nothing nor copied into one list.
        let hits: Vec<Vec<(u32, u32, u32)>> = on_parts(&data.parts, |pi, part| {
            // At most the rows of roster members, sized once (a list grown step by step is
            // copied into fresh memory each time).
            let mut v =
                Vec::with_capacity(join.persons[pi].iter().filter(|&&p| p != NOBODY).count());
            for (r, &p) in join.persons[pi].iter().enumerate() {
                if p == NOBODY || mask.as_ref().is_some_and(|m| !m[p as usize]) {
                    continue;
                }
                if passes(part, r, &rule.filters, ctx) {
                    v.push((p, pi as u32, r as u32));
                }
            }
            v
        });
        let group_of = |p: u32, per: Per| match per {
            Per::Person => p,
            Per::Household => self.roster.persons[p as usize].household,
        };
        let groups_of = |per: Per| match per {
            Per::Person => self.roster.persons.len(),
            Per::Household => self.roster.households.len(),
        };
        // Which groups (persons or households) the rule flags: with an aggregate, those whose
        // sum reaches the threshold; without, every group with a hit.
        // Each core sums the groups of one range, reading every hit (no copy of the sums per
        // core, and no core waits for another).
        let flagged: Option<Vec<bool>> = rule.aggregate.as_ref().map(|a| {
            let mut sums = vec![0_i64; groups_of(a.per)];
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let per = sums.len().div_ceil(threads).max(1);
            std::thread::scope(|s| {
                for (k, range) in sums.chunks_mut(per).enumerate() {
                    let (hits, group_of) = (&hits, &group_of);
                    s.spawn(move || {
                        let first = k * per;
                        for &(p, pi, r) in hits.iter().flatten() {
                            let g = (group_of(p, a.per) as usize).wrapping_sub(first);
                            if let Some(sum) = range.get_mut(g) {
                                let part = &data.parts[pi as usize];
                                let v = number(part, a.column, r as usize).unwrap_or(0);
                                *sum = sum.saturating_add(v);
                            }
                        }
                    });
                }
            });
            sums.into_iter().map(|s| s >= a.at_least).collect()
        });
        let is_flagged = |p: u32| match (&flagged, &rule.aggregate) {
            (Some(f), Some(a)) => f[group_of(p, a.per) as usize],
            _ => true,
        };
        // The hits of flagged people, found on every core, part by part.
        let hits: Vec<Vec<Hit<u32>>> = on_parts(&data.parts, |pi, _| {
            hits[pi]
                .iter()
                .copied()
                .filter(|h| is_flagged(h.0))
                .collect()
        });
        // Clue groups: by person or by household, holding the hits of flagged people, in
        // the order their first hit came; each group's place kept by group number.
        let mut groups: Vec<Vec<Hit<u32>>> = Vec::new();
        let mut place = vec![u32::MAX; groups_of(rule.per)];
        for &h in hits.iter().flatten() {
            let slot = &mut place[group_of(h.0, rule.per) as usize];
            if *slot == u32::MAX {
                *slot = groups.len() as u32;
                groups.push(Vec::new());
            }
            groups[*slot as usize].push(h);
        }
        drop((hits, place));
        // Each clue's evidence is written out in words: spread over the cores. The rule's
        // conditions read the same in every clue, so they are written once.
        let mut conditions = String::new();
        push_conditions(&mut conditions, rule.data, &rule.filters, ctx);
        let mut clues: Vec<Clue> = on_slices(&groups, |hits| {
            self.roster_clue(rule, data, join, hits, &conditions)
        });
        clues.sort_by(|a, b| a.household_no.cmp(&b.household_no));
        clues
    }

    fn roster_clue(
        &self,
        rule: &Rule,
        data: &Dataset,
        join: &Join,
        hits: &[(u32, u32, u32)],
        conditions: &str,
    ) -> Clue {
        let mut subjects: Vec<Subject> = Vec::new();
        // A person or a household: a few people, found faster in a list than in a set.
        let mut seen: Vec<u32> = Vec::new();
        for &(p, pi, r) in hits {
            if !seen.contains(&p) {
                seen.push(p);
                let person = &self.roster.persons[p as usize];
                let normalised = data.parts[pi as usize].ids[r as usize].normalised();
                let (method, confidence) = match join.fuzzy.get(&(pi, r)) {
                    Some(&c) => (MatchMethod::Fuzzy, c),
                    None if normalised => (MatchMethod::Normalized, 1.0),
                    None => (MatchMethod::Exact, 1.0),
                };
                subjects.push(Subject {
                    key: person.key,
                    name: self.roster.name(p).to_owned(),
                    method,
                    confidence,
                });
            }
        }
        let household = self.roster.household_of(hits[0].0);
        // The rule's conditions and up to five rows follow the sums: room for them at once.
        let mut evidence = String::with_capacity(conditions.len() + 512);
        if let Some(a) = &rule.aggregate {
            let total = hits
                .iter()
                .map(|&(_, pi, r)| {
                    number(&data.parts[pi as usize], a.column, r as usize).unwrap_or(0)
                })
                .fold(0_i64, i64::saturating_add);
            let header = rule.data.columns()[a.column].header;
            let _ = write!(
                evidence,
                "{} {} 条，{}合计 {}，达到 {}的阈值",
                rule.data.label(),
                hits.len(),
                header,
                amount(total, a.money),
                amount(a.at_least, a.money),
            );
        } else {
            let _ = write!(evidence, "{}中有 {} 条记录", rule.data.label(), hits.len());
        }
        evidence.push_str(conditions);
        push_rows(
            &mut evidence,
            rule.data,
            data,
            hits.iter().map(|h| (h.1, h.2)),
        );
        let rows = hits
            .iter()
            .map(|&(_, pi, r)| row_ref(data, pi, r))
            .collect();
        new_clue(rule, Some(household), subjects, evidence, rows)
    }

    /// Match rules on people not in the roster: sums per person, then the rows of those
    /// flagged, found in a second pass. A clue goes to the township its rows' address names
    /// (the ID's area code names only the county).
    fn match_outsiders(&self, rule: &Rule, data: &Dataset, join: &Join, ctx: &Ctx) -> Vec<Clue> {
        let mut townships: Vec<&str> = self
            .roster
            .households
            .iter()
            .map(|h| h.township.as_str())
            .collect();
        townships.sort_unstable();
        townships.dedup();
        let address = rule.data.column("address").map(|(i, _)| i);
        let counts = |pi: usize, part: &Part, r: usize| -> Option<u64> {
            let k = part.ids[r].raw_key()?;
            (join.persons[pi][r] == NOBODY && passes(part, r, &rule.filters, ctx)).then_some(k)
        };
        let flagged: FastSet<u64> = match &rule.aggregate {
            None => FastSet::default(),
            Some(a) => {
                let partial = on_parts(&data.parts, |pi, part| {
                    let mut sums: FastMap<u64, i64> = FastMap::default();
                    for r in 0..part.len() {
                        if let Some(k) = counts(pi, part, r) {
                            let e = sums.entry(k).or_default();
                            *e = e.saturating_add(number(part, a.column, r).unwrap_or(0));
                        }
                    }
                    sums
                });
                let mut sums: FastMap<u64, i64> = FastMap::default();
                for m in partial {
                    for (k, v) in m {
                        let e = sums.entry(k).or_default();
                        *e = e.saturating_add(v);
                    }
                }
                sums.into_iter()
                    .filter(|&(_, s)| s >= a.at_least)
                    .map(|(k, _)| k)
                    .collect()
            }
        };
        let mut by_key: FastMap<u64, Vec<(u32, u32)>> = FastMap::default();
        let hits = on_parts(&data.parts, |pi, part| {
            let mut v = Vec::new();
            for r in 0..part.len() {
                if let Some(k) = counts(pi, part, r) {
                    if rule.aggregate.is_none() || flagged.contains(&k) {
                        v.push((k, pi as u32, r as u32));
                    }
                }
            }
            v
        });
        for (k, pi, r) in hits.into_iter().flatten() {
            by_key.entry(k).or_default().push((pi, r));
        }
        let mut keys: Vec<u64> = by_key.keys().copied().collect();
        keys.sort_unstable();
        keys.into_iter()
            .filter_map(|k| {
                let rows = by_key.remove(&k)?;
                let key = IdKey::from_u64(k)?;
                let (pi, r) = rows[0];
                let part = &data.parts[pi as usize];
                let name = name_column(rule.data)
                    .and_then(|c| part.text(c, r as usize))
                    .unwrap_or_default()
                    .to_owned();
                let mut evidence = String::new();
                if let Some(a) = &rule.aggregate {
                    let total = rows
                        .iter()
                        .map(|&(pi, r)| {
                            number(&data.parts[pi as usize], a.column, r as usize).unwrap_or(0)
                        })
                        .fold(0_i64, i64::saturating_add);
                    evidence.push_str(&format!(
                        "不在脱贫户、监测对象名单中；{} {} 条，{}合计 {}，达到 {}的阈值",
                        rule.data.label(),
                        rows.len(),
                        rule.data.columns()[a.column].header,
                        amount(total, a.money),
                        amount(a.at_least, a.money),
                    ));
                } else {
                    evidence.push_str(&format!(
                        "不在脱贫户、监测对象名单中；{}中有 {} 条记录",
                        rule.data.label(),
                        rows.len()
                    ));
                }
                push_conditions(&mut evidence, rule.data, &rule.filters, ctx);
                evidence.push_str(&format!("；户籍地区划代码 {}", key.region()));
                push_rows(&mut evidence, rule.data, data, rows.iter().copied());
                let township = address.and_then(|c| {
                    rows.iter().find_map(|&(pi, r)| {
                        let text = data.parts[pi as usize].text(c, r as usize)?;
                        township_by_address(text, &townships)
                    })
                });
                if let Some(t) = township {
                    evidence.push_str(&format!("；按住址归属{t}"));
                }
                let refs = rows.iter().map(|&(pi, r)| row_ref(data, pi, r)).collect();
                let subjects = vec![Subject {
                    key,
                    name,
                    method: if part.ids[r as usize].normalised() {
                        MatchMethod::Normalized
                    } else {
                        MatchMethod::Exact
                    },
                    confidence: 1.0,
                }];
                let mut clue = new_clue(rule, None, subjects, evidence, refs);
                clue.township = township.map(str::to_owned);
                Some(clue)
            })
            .collect()
    }

    /// The keys of `data`'s rows that pass `filters`.
    /// The keys of `data`'s rows that pass `filters`, rows matched by the fuzzy fallback
    /// included (a person present under a damaged number is present).
    fn present(&self, data: &Dataset, join: &Join, filters: &[Filter], ctx: &Ctx) -> FastSet<u64> {
        let mut present = FastSet::default();
        for s in on_parts(&data.parts, |pi, part| {
            (0..part.len())
                .filter(|&r| passes(part, r, filters, ctx))
                .filter_map(|r| {
                    part.ids[r].raw_key().or_else(|| {
                        let p = join.persons[pi][r];
                        (p != NOBODY).then(|| self.roster.persons[p as usize].key.get())
                    })
                })
                .collect::<Vec<u64>>()
        }) {
            present.extend(s);
        }
        present
    }

    /// Absence rules on roster members: those of the population with no row that counts;
    /// not run when the data holds too few of the population to be a whole list.
    fn absent_roster(
        &self,
        rule: &Rule,
        data: &Dataset,
        join: &Join,
        ctx: &Ctx,
    ) -> Result<Vec<Clue>, String> {
        let present = self.present(data, join, &rule.filters, ctx);
        let (mut population, mut found) = (0_usize, 0_usize);
        for (p, person) in self.roster.persons.iter().enumerate() {
            if self.in_population(rule, p as u32) {
                population += 1;
                found += usize::from(present.contains(&person.key.get()));
            }
        }
        // Small rosters (a village, a test) are taken as they are.
        if population >= 100 && (found as f64) < rule.min_coverage * population as f64 {
            return Err(format!(
                "“{}”数据只含名单中应有人员的 {:.1}%（{found} / {population}），低于 {:.0}%，疑似报送不完整，未据此推送缺失线索",
                rule.data.label(),
                100.0 * found as f64 / population as f64,
                100.0 * rule.min_coverage
            ));
        }
        let mut clues = Vec::new();
        for (h, household) in self.roster.households.iter().enumerate() {
            let members = self.roster.members(h as u32);
            let absent: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&p| self.in_population(rule, p))
                .filter(|&p| !present.contains(&self.roster.persons[p as usize].key.get()))
                .collect();
            if absent.is_empty() {
                continue;
            }
            if rule.per == Per::Household
                && members
                    .iter()
                    .any(|&p| present.contains(&self.roster.persons[p as usize].key.get()))
            {
                continue;
            }
            let groups: Vec<Vec<u32>> = match rule.per {
                Per::Person => absent.into_iter().map(|p| vec![p]).collect(),
                Per::Household => vec![absent],
            };
            for g in groups {
                let subjects: Vec<Subject> = g
                    .iter()
                    .map(|&p| {
                        let person = &self.roster.persons[p as usize];
                        Subject {
                            key: person.key,
                            name: self.roster.name(p).to_owned(),
                            method: MatchMethod::Exact,
                            confidence: 1.0,
                        }
                    })
                    .collect();
                let mut evidence = String::new();
                if let Population::Roster {
                    min_age, max_age, ..
                } = &rule.population
                {
                    if min_age.is_some() || max_age.is_some() {
                        let ages: Vec<String> = subjects
                            .iter()
                            .map(|s| format!("{} {} 周岁", s.name, s.key.age_on(self.as_of)))
                            .collect();
                        evidence.push_str(&format!(
                            "按身份证号计算，截至 {} {}（规则范围 {}）；",
                            self.as_of,
                            ages.join("、"),
                            age_range(*min_age, *max_age)
                        ));
                    }
                }
                evidence.push_str(&format!(
                    "{}中没有{}符合条件的记录",
                    rule.data.label(),
                    if rule.per == Per::Household {
                        "该户任何成员"
                    } else {
                        "其"
                    }
                ));
                push_conditions(&mut evidence, rule.data, &rule.filters, ctx);
                clues.push(new_clue(
                    rule,
                    Some(household),
                    subjects,
                    evidence,
                    Vec::new(),
                ));
            }
        }
        clues.sort_by(|a, b| a.household_no.cmp(&b.household_no));
        Ok(clues)
    }

    /// Absence rules whose population is another data set's people (低保 and 特困 without the
    /// electricity waiver): per household when the person is in the roster.
    fn absent_from_data(
        &self,
        rule: &Rule,
        data: &Dataset,
        join: &Join,
        population: &Dataset,
        pop_filters: &[Filter],
        ctx: &Ctx,
    ) -> Vec<Clue> {
        let present = self.present(data, join, &rule.filters, ctx);
        let covered = |k: u64| -> bool {
            if present.contains(&k) {
                return true;
            }
            match (rule.per, self.roster.person(k)) {
                (Per::Household, Some(p)) => {
                    let h = self.roster.persons[p as usize].household;
                    self.roster
                        .members(h)
                        .iter()
                        .any(|&m| present.contains(&self.roster.persons[m as usize].key.get()))
                }
                _ => false,
            }
        };
        // First row of each uncovered person of the population, in file order.
        let mut seen: FastSet<u64> = FastSet::default();
        let mut groups: Vec<(Option<u32>, Vec<Hit<u64>>)> = Vec::new();
        let mut by_household: FastMap<u32, usize> = FastMap::default();
        for (pi, part) in population.parts.iter().enumerate() {
            for r in 0..part.len() {
                let Some(k) = part.ids[r].raw_key() else {
                    continue;
                };
                if !passes(part, r, pop_filters, ctx) || covered(k) || !seen.insert(k) {
                    continue;
                }
                let household = self
                    .roster
                    .person(k)
                    .map(|p| self.roster.persons[p as usize].household);
                match (rule.per, household) {
                    (Per::Household, Some(h)) => {
                        let i = *by_household.entry(h).or_insert_with(|| {
                            groups.push((Some(h), Vec::new()));
                            groups.len() - 1
                        });
                        groups[i].1.push((k, pi as u32, r as u32));
                    }
                    _ => groups.push((household, vec![(k, pi as u32, r as u32)])),
                }
            }
        }
        groups
            .into_iter()
            .filter_map(|(h, rows)| {
                let subjects: Vec<Subject> = rows
                    .iter()
                    .filter_map(|&(k, pi, r)| {
                        let part = &population.parts[pi as usize];
                        Some(Subject {
                            key: IdKey::from_u64(k)?,
                            name: name_column(population.kind)
                                .and_then(|c| part.text(c, r as usize))
                                .unwrap_or_default()
                                .to_owned(),
                            method: if part.ids[r as usize].normalised() {
                                MatchMethod::Normalized
                            } else {
                                MatchMethod::Exact
                            },
                            confidence: 1.0,
                        })
                    })
                    .collect();
                subjects.first()?;
                let household = h.map(|h| &self.roster.households[h as usize]);
                let mut evidence = format!("属于{}", population.kind.label());
                push_conditions(&mut evidence, population.kind, pop_filters, ctx);
                evidence.push_str(&format!(
                    "；{}中没有{}的记录",
                    rule.data.label(),
                    if household.is_some() && rule.per == Per::Household {
                        "该户任何成员"
                    } else {
                        "其"
                    }
                ));
                push_conditions(&mut evidence, rule.data, &rule.filters, ctx);
                push_rows(
                    &mut evidence,
                    population.kind,
                    population,
                    rows.iter().map(|r| (r.1, r.2)),
                );
                let refs = rows
                    .iter()
                    .map(|&(_, pi, r)| row_ref(population, pi, r))
                    .collect();
                Some(new_clue(rule, household, subjects, evidence, refs))
            })
            .collect()
    }
}

/// Per part, per row: the roster member the row's ID belongs to; and the rows matched by the
/// fuzzy fallback, (part, row), with their confidence.
struct Join {
    persons: Vec<Vec<u32>>,
    fuzzy: FastMap<(u32, u32), f32>,
}

/// A row whose ID is no roster member's (or failed).
const NOBODY: u32 = u32::MAX;

/// The as-of date in the forms filters compare with.
struct Ctx {
    as_of: i32,
    year: i64,
}

/// The township an address lies in: the longest township name the address holds, else the
/// one name that, without its 镇/乡/街道 ending, the address holds ("城关" for 城关镇). None
/// when no township, or more than one shortened name, fits: a guess would send the clue to
/// the wrong township.
pub fn township_by_address<'a>(address: &str, townships: &[&'a str]) -> Option<&'a str> {
    let address: String = address.split_whitespace().collect();
    if let Some(t) = townships
        .iter()
        .filter(|t| !t.is_empty() && address.contains(**t))
        .max_by_key(|t| t.chars().count())
    {
        return Some(t);
    }
    let mut short = townships.iter().filter(|t| {
        ["街道办事处", "街道", "镇", "乡"]
            .iter()
            .find_map(|end| t.strip_suffix(end))
            .is_some_and(|s| s.chars().count() >= 2 && address.contains(s))
    });
    match (short.next(), short.next()) {
        (Some(t), None) => Some(t),
        _ => None,
    }
}

fn name_column(kind: DataKind) -> Option<usize> {
    kind.column("name").map(|(i, _)| i)
}

fn number(part: &Part, column: usize, row: usize) -> Option<i64> {
    part.columns[column].number(row)
}

/// Whether a row passes every filter. A filter on an optional column the file lacks: the
/// value is empty, so `not_in` passes and the others fail.
fn passes(part: &Part, row: usize, filters: &[Filter], ctx: &Ctx) -> bool {
    filters.iter().all(|f| {
        let col = &part.columns[f.column];
        match &f.pred {
            Pred::In(values) => part
                .text(f.column, row)
                .is_some_and(|t| in_values(values, t)),
            Pred::NotIn(values) => part
                .text(f.column, row)
                .is_none_or(|t| !in_values(values, t)),
            Pred::AtLeast(v) => number(part, f.column, row).is_some_and(|x| x >= *v),
            Pred::AtMost(v) => number(part, f.column, row).is_some_and(|x| x <= *v),
            Pred::WithinDays(days) => col.date(row).is_some_and(|x| {
                x <= ctx.as_of && i64::from(x) > i64::from(ctx.as_of) - i64::from(*days)
            }),
            Pred::AsOfYear => match col {
                ColumnData::Int(_) => col.number(row) == Some(ctx.year),
                ColumnData::Date(_) => col
                    .date(row)
                    .is_some_and(|x| i64::from(crate::load::day_of(x).year()) == ctx.year),
                _ => false,
            },
        }
    })
}

/// Whether a cell is one of a filter's (folded) values; folded only when it must be.
fn in_values(values: &[String], cell: &str) -> bool {
    if values.iter().any(|v| v == cell) {
        return true;
    }
    let plain = cell
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_lowercase() && !b.is_ascii_whitespace());
    !plain && {
        let folded = crate::rules::fold_text(cell);
        values.contains(&folded)
    }
}

fn amount(v: i64, money: bool) -> String {
    if money {
        format!("{} 元", format_fen(v))
    } else {
        v.to_string()
    }
}

fn age_range(min: Option<u8>, max: Option<u8>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a}～{b} 周岁"),
        (Some(a), None) => format!("{a} 周岁及以上"),
        (None, Some(b)) => format!("{b} 周岁及以下"),
        (None, None) => "不限".to_owned(),
    }
}

/// The conditions of the filters, in words: "（条件：结算日期在 2023-12-01 至 2024-11-30 之间）".
fn push_conditions(out: &mut String, kind: DataKind, filters: &[Filter], ctx: &Ctx) {
    if filters.is_empty() {
        return;
    }
    let cols = kind.columns();
    let money = |c: usize| cols[c].ty == FieldType::Money;
    let words: Vec<String> = filters
        .iter()
        .map(|f| {
            let h = cols[f.column].header;
            match &f.pred {
                Pred::In(v) => format!("{h}为{}", v.join("/")),
                Pred::NotIn(v) => format!("{h}不为{}", v.join("/")),
                Pred::AtLeast(v) => format!("{h}不低于 {}", amount(*v, money(f.column))),
                Pred::AtMost(v) => format!("{h}不高于 {}", amount(*v, money(f.column))),
                Pred::WithinDays(d) => format!(
                    "{h}在 {} 至 {} 之间",
                    format_day(ctx.as_of - *d as i32 + 1),
                    format_day(ctx.as_of)
                ),
                Pred::AsOfYear => format!("{h}为 {} 年", ctx.year),
            }
        })
        .collect();
    out.push_str(&format!("（条件：{}）", words.join("，")));
}

/// The first rows behind a clue with their values: "来源：medical.csv 第 12 行（结算日期
/// 2024-03-05，总费用 8,000.00，个人自付 3,200.00）…".
fn push_rows(
    out: &mut String,
    kind: DataKind,
    data: &Dataset,
    rows: impl Iterator<Item = (u32, u32)>,
) {
    const SHOWN: usize = 5;
    let mut count = 0;
    for (pi, r) in rows {
        count += 1;
        if count > SHOWN {
            continue;
        }
        out.push_str(if count == 1 { "；来源：" } else { "；" });
        let part = &data.parts[pi as usize];
        let _ = write!(
            out,
            "{} 第 {} 行（",
            part.source,
            part.row_no.get(r as usize)
        );
        let mut first = true;
        for (i, c) in kind.columns().iter().enumerate() {
            if c.ty == FieldType::Id || c.field == "name" {
                continue;
            }
            // Dates and amounts are written straight on (they hold no long digit runs to
            // mask); text and numbers as shown, masked.
            enum Shown {
                Day(i32),
                Fen(i64),
                Text(String),
            }
            let (column, r) = (&part.columns[i], r as usize);
            let shown = match column {
                ColumnData::Date(_) => column.date(r).map(Shown::Day),
                ColumnData::Money(_) => column.number(r).map(Shown::Fen),
                _ => Some(part.display(i, r))
                    .filter(|v| !v.is_empty())
                    .map(Shown::Text),
            };
            let Some(shown) = shown else { continue };
            if !first {
                out.push('，');
            }
            first = false;
            out.push_str(c.header);
            out.push(' ');
            match shown {
                Shown::Day(d) => push_day(out, d),
                Shown::Fen(f) => push_fen(out, f),
                Shown::Text(v) => push_masked(out, &v),
            }
        }
        out.push('）');
    }
    if count > SHOWN {
        let _ = write!(out, " 等 {count} 条");
    }
}

/// `v` with the middle of every run of 15 or more digits hidden (a certificate number built
/// on an ID number, say): evidence is read by many and never needs them whole.
fn push_masked(out: &mut String, v: &str) {
    let b = v.as_bytes();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'X' | b'x')) {
            i += 1;
        }
        if i - start >= 15 {
            // The run is ASCII: its ends are character boundaries.
            out.push_str(&v[copied..start + 4]);
            out.extend(std::iter::repeat_n('*', i - start - 8));
            out.push_str(&v[i - 4..i]);
            copied = i;
        }
    }
    out.push_str(&v[copied..]);
}

/// A clue of `rule` about `subjects` (at least one), routed as the rule says.
fn new_clue(
    rule: &Rule,
    household: Option<&RosterHousehold>,
    subjects: Vec<Subject>,
    evidence: String,
    rows: Vec<RowRef>,
) -> Clue {
    Clue {
        rule: rule.code.clone(),
        title: rule.title.clone(),
        finding: rule.finding,
        severity: rule.severity,
        household_no: household.map(|h| h.household_no.clone()),
        township: household.map(|h| h.township.clone()),
        village: household.map(|h| h.village.clone()),
        region: subjects.first().map_or(0, |s| s.key.region()),
        subjects,
        evidence,
        rows,
        departments: rule.route.departments.clone(),
        to_township: rule.route.township,
        per: rule.per,
    }
}

fn row_ref(data: &Dataset, part: u32, row: u32) -> RowRef {
    let p = &data.parts[part as usize];
    RowRef {
        source: p.source.clone(),
        row: p.row_no.get(row as usize),
    }
}

/// `f` of every item, spread over the machine's cores in contiguous slices, in order.
fn on_slices<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < 256 || threads == 1 {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|slice| s.spawn(move || slice.iter().map(f).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Runs `f` on every part, spread over the machine's cores, results in part order.
fn on_parts<T: Send>(parts: &[Part], f: impl Fn(usize, &Part) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if parts.len() <= 1 || threads == 1 {
        return parts.iter().enumerate().map(|(i, p)| f(i, p)).collect();
    }
    let f = &f;
    let mut out: Vec<Option<T>> = (0..parts.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    parts
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, p)| (i, f(i, p)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(v) => {
                    for (i, r) in v {
                        out[i] = Some(r);
                    }
                }
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::push_masked;

    fn masked(v: &str) -> String {
        let mut out = String::from(">");
        push_masked(&mut out, v);
        out
    }

    #[test]
    fn long_digit_runs_are_masked_in_the_middle_and_the_rest_is_kept() {
        assert_eq!(masked(""), ">");
        assert_eq!(masked("残疾证 12345678901234"), ">残疾证 12345678901234");
        assert_eq!(masked("123456789012345"), ">1234*******2345");
        assert_eq!(
            masked("证号41132119900101123X2级，另41132119900101123x"),
            ">证号4113***********23X2级，另4113**********123x"
        );
        // A run starts at a digit: a leading X is text, and full-width digits are not digits.
        assert_eq!(
            masked("X411321199001011234，４１１３"),
            ">X4113**********1234，４１１３"
        );
        assert_eq!(masked("8,000.00"), ">8,000.00");
    }
}
