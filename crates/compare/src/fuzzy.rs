//! The fuzzy fallback (模糊匹配) for rows whose ID number fails: what is left of the number
//! (a digit mistyped, two swapped, a wrong check character, the leading digits a spreadsheet
//! kept), the name and the village the row's address names find candidates among roster
//! members; each gets a confidence. Sure ones are taken, uncertain ones go to a person to
//! confirm, the rest are only reported.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use liandong_domain::id_number::IdKey;

use crate::load::{normalise_name, Dataset};
use crate::roster::Roster;

/// At or above: taken as a match without asking.
pub const ACCEPT: f32 = 0.99;
/// At or above (and below [`ACCEPT`]): shown to a person to confirm or reject.
pub const REVIEW: f32 = 0.80;

/// What remains of a damaged ID number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Remains {
    /// Every digit, some of them wrong (17 to 19 characters).
    Digits(Vec<u8>),
    /// Only the leading digits are known (a spreadsheet kept these and zeroed or dropped the
    /// rest).
    Prefix(Vec<u8>),
    Nothing,
}

fn remains(raw: &str) -> Remains {
    let mut s = Vec::with_capacity(20);
    for c in raw.chars() {
        let c = match c {
            '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
            '\u{FF38}' | '\u{FF58}' | 'x' => 'X',
            '\u{FF0E}' => '.',
            '\u{FF25}' | '\u{FF45}' | 'e' => 'E',
            '\u{FF0B}' => '+',
            c if c.is_whitespace() => continue,
            c => c,
        };
        if c.is_ascii() {
            s.push(c as u8);
        }
    }
    // 4.11321E+17: the mantissa's digits lead an 18-digit number.
    if let Some(e) = s.iter().position(|&b| b == b'E') {
        let exponent: String = s[e + 1..]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        if exponent == "17" {
            let digits: Vec<u8> = s[..e].iter().copied().filter(u8::is_ascii_digit).collect();
            return Remains::Prefix(digits);
        }
        return Remains::Nothing;
    }
    // 411321199001011000.0: fifteen significant digits survive, the last three are zeros.
    if let Some(body) = s.strip_suffix(b".0") {
        if body.len() == 18 && body.iter().all(u8::is_ascii_digit) {
            return Remains::Prefix(body[..15].to_vec());
        }
        return Remains::Nothing;
    }
    let valid = |b: &u8| b.is_ascii_digit() || *b == b'X';
    if (17..=19).contains(&s.len()) && s.iter().all(valid) {
        return Remains::Digits(s);
    }
    Remains::Nothing
}

/// How well what remains of a number fits a candidate's number, from 0 to 1.
fn id_fit(remains: &Remains, candidate: &[u8]) -> f32 {
    match remains {
        Remains::Digits(d) if d.len() == 18 => {
            let diffs: Vec<usize> = (0..18).filter(|&i| d[i] != candidate[i]).collect();
            match diffs.as_slice() {
                [] | [_] => 0.98,
                [a, b] if *b == a + 1 && d[*a] == candidate[*b] && d[*b] == candidate[*a] => 0.98,
                [_, _] => 0.6,
                _ => 0.0,
            }
        }
        // A digit dropped or doubled.
        Remains::Digits(d) => {
            let (short, long) = if d.len() < 18 {
                (d.as_slice(), candidate)
            } else {
                (candidate, d.as_slice())
            };
            let one_removed = (0..long.len())
                .any(|i| long[..i] == short[..i.min(short.len())] && long[i + 1..] == short[i..]);
            if one_removed {
                0.95
            } else {
                0.0
            }
        }
        Remains::Prefix(p) => {
            if p.len() > 18 || candidate[..p.len()] != p[..] {
                0.0
            } else if p.len() >= 15 {
                0.97
            } else if p.len() >= 14 {
                0.9
            } else if p.len() >= 6 {
                0.3
            } else {
                0.1
            }
        }
        Remains::Nothing => 0.0,
    }
}

/// Whether two characters can be read alike (any of their readings, tones ignored): a clerk
/// typing a name from speech picks 玮 for 伟, 章 for 张.
fn sounds_alike(a: char, b: char) -> bool {
    a == b || readings(a).any(|x| readings(b).any(|y| x == y))
}

/// How alike two names are: the same (1.0), the same sounds with other characters (0.9),
/// one character apart (0.7), or not.
fn name_fit(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if x.len() != y.len() || x.len() < 2 {
        return 0.0;
    }
    let differing: Vec<(char, char)> = x
        .iter()
        .zip(&y)
        .filter(|(p, q)| p != q)
        .map(|(p, q)| (*p, *q))
        .collect();
    if differing.iter().all(|(p, q)| sounds_alike(*p, *q)) {
        0.9
    } else if differing.len() == 1 {
        0.7
    } else {
        0.0
    }
}

/// The confidence of a candidate from its two fits and whether the row's address names the
/// candidate's village: a near-certain number and the same name are a match; anything weaker
/// needs a person. A village is never enough to take a match (most of a village is not in
/// the roster, and namesakes live there too), but it raises a weak one to be shown.
fn confidence(id: f32, name: f32, same_village: bool) -> f32 {
    match (id, name, same_village) {
        (i, n, _) if i >= 0.95 && n >= 1.0 => 0.995,
        (i, n, _) if i >= 0.9 && n >= 1.0 => 0.99,
        (i, n, _) if i >= 0.9 && n >= 0.9 => 0.96,
        (i, n, _) if i >= 0.95 && n >= 0.7 => 0.95,
        (i, n, _) if i >= 0.6 && n >= 1.0 => 0.9,
        (i, n, true) if i >= 0.3 && n >= 1.0 => 0.9,
        (i, n, _) if i >= 0.3 && n >= 1.0 => 0.85,
        (i, n, true) if i >= 0.3 && n >= 0.9 => 0.85,
        (_, n, true) if n >= 1.0 => 0.82,
        (i, _, _) if i >= 0.95 => 0.8,
        (_, n, true) if n >= 0.9 => 0.8,
        _ => 0.0,
    }
}

/// Roster members by name, by the first 14 digits of their number (region and birth date),
/// by birth date alone, and by village.
pub struct FuzzyIndex<'r> {
    roster: &'r Roster,
    by_name: HashMap<&'r str, Vec<u32>, foldhash::fast::RandomState>,
    /// (first 14 digits, member), sorted.
    by_birth: Vec<(u64, u32)>,
    /// (birth date as `yyyymmdd`, member), sorted: for a number whose region is mistyped.
    by_day: Vec<(u64, u32)>,
    /// (region, sequence number and a reading of the surname, as one hash; member), sorted:
    /// for a number whose birth date is mistyped and a name written by ear.
    by_sound: Vec<(u64, u32)>,
    /// The roster's villages: (township, village, members in roster order), for rows whose
    /// address names one.
    places: Vec<(&'r str, &'r str, Vec<u32>)>,
    /// The roster's townships, each once.
    townships: Vec<&'r str>,
    /// Built when an address is first read.
    villages: OnceLock<Villages>,
}

/// What finds the roster villages an address names, and their members by surname.
struct Villages {
    /// The distinct village names of two characters or more, all sought in one pass over an
    /// address (a county has thousands of villages).
    names: Option<aho_corasick::AhoCorasick>,
    /// The places (in [`FuzzyIndex::places`]) of each name, by its number in `names`.
    places_of: Vec<Vec<usize>>,
    /// (place and a reading of the surname, or the surname itself, as one hash; member),
    /// sorted: a village's members whose name may be alike, without judging every member.
    by_place_sound: Vec<(u64, u32)>,
}

/// The readings of a character, tones left out (a heteronym has several).
fn readings(c: char) -> impl Iterator<Item = &'static str> {
    use pinyin::ToPinyinMulti;
    c.to_pinyin_multi()
        .into_iter()
        .flat_map(|m| m.into_iter().map(|p| p.plain()))
}

/// The key of [`FuzzyIndex::by_sound`]: a number's region and sequence number (its digits
/// 1-6 and 15-17) with one reading of a surname.
fn sound_key(region_sequence: u64, reading: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one((region_sequence, reading))
}

/// The members listed under `key` in a sorted block list.
fn block(list: &[(u64, u32)], key: u64) -> impl Iterator<Item = u32> + '_ {
    let start = list.partition_point(|e| e.0 < key);
    list[start..]
        .iter()
        .take_while(move |e| e.0 == key)
        .map(|e| e.1)
}

/// A candidate for a row whose ID failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub person: u32,
    pub confidence: f32,
}

/// What the fallback made of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Sure enough to use.
    Matched(Candidate),
    /// For a person to confirm or reject, best first.
    Review(Vec<Candidate>),
    Unmatched,
}

impl<'r> FuzzyIndex<'r> {
    pub fn new(roster: &'r Roster) -> FuzzyIndex<'r> {
        let mut by_name: HashMap<&str, Vec<u32>, foldhash::fast::RandomState> = HashMap::default();
        let mut by_birth = Vec::with_capacity(roster.persons.len());
        let mut by_day = Vec::with_capacity(roster.persons.len());
        let mut by_sound = Vec::with_capacity(roster.persons.len());
        for (i, p) in roster.persons.iter().enumerate() {
            let name = roster.name(i as u32);
            by_name.entry(name).or_default().push(i as u32);
            let prefix14 = p.key.get() / 1_000;
            by_birth.push((prefix14, i as u32));
            by_day.push((prefix14 % 100_000_000, i as u32));
            let region_sequence = p.key.get() / 100_000_000_000 * 1_000 + p.key.get() % 1_000;
            for r in name.chars().next().into_iter().flat_map(readings) {
                by_sound.push((sound_key(region_sequence, r), i as u32));
            }
        }
        by_birth.sort_unstable();
        by_day.sort_unstable();
        by_sound.sort_unstable();
        by_sound.dedup();
        let mut place_of: HashMap<(&str, &str), usize, foldhash::fast::RandomState> =
            HashMap::default();
        let mut places: Vec<(&str, &str, Vec<u32>)> = Vec::new();
        for (h, household) in roster.households.iter().enumerate() {
            let at = *place_of
                .entry((household.township.as_str(), household.village.as_str()))
                .or_insert_with(|| {
                    places.push((&household.township, &household.village, Vec::new()));
                    places.len() - 1
                });
            places[at].2.extend_from_slice(roster.members(h as u32));
        }
        for p in &mut places {
            p.2.sort_unstable();
        }
        let mut townships: Vec<&str> = places.iter().map(|p| p.0).collect();
        townships.sort_unstable();
        townships.dedup();
        FuzzyIndex {
            roster,
            by_name,
            by_birth,
            by_day,
            by_sound,
            places,
            townships,
            villages: OnceLock::new(),
        }
    }

    /// The keys a surname is listed under in [`FuzzyIndex::by_place_sound`] for place `at`:
    /// the character itself and each of its readings.
    fn place_sound_keys(at: usize, surname: char) -> impl Iterator<Item = u64> {
        let mut buf = [0_u8; 4];
        let itself = sound_key(at as u64, surname.encode_utf8(&mut buf));
        std::iter::once(itself).chain(readings(surname).map(move |r| sound_key(at as u64, r)))
    }

    fn villages(&self) -> &Villages {
        self.villages.get_or_init(|| {
            let mut list = Vec::new();
            let mut number: HashMap<&str, usize, foldhash::fast::RandomState> = HashMap::default();
            let mut places_of: Vec<Vec<usize>> = Vec::new();
            for (at, place) in self.places.iter().enumerate() {
                for &p in &place.2 {
                    if let Some(surname) = self.roster.name(p).chars().next() {
                        list.extend(Self::place_sound_keys(at, surname).map(|k| (k, p)));
                    }
                }
                if place.1.chars().count() >= 2 {
                    let n = *number.entry(place.1).or_insert_with(|| {
                        places_of.push(Vec::new());
                        places_of.len() - 1
                    });
                    places_of[n].push(at);
                }
            }
            list.sort_unstable();
            list.dedup();
            let mut names: Vec<(&str, usize)> = number.into_iter().collect();
            names.sort_unstable_by_key(|n| n.1);
            // Too many names to build a matcher for: no village is read from addresses.
            let names = aho_corasick::AhoCorasick::new(names.iter().map(|n| n.0)).ok();
            Villages {
                names,
                places_of,
                by_place_sound: list,
            }
        })
    }

    /// The roster villages an address names (places in [`FuzzyIndex::places`]): the village
    /// names it holds, a name inside a longer one it holds left out (东村 in 小东村). When the
    /// address names a roster township, only that township's villages, sought in the rest of
    /// the address (a village 张村 is not read in 张村乡).
    fn places_in(&self, address: &str) -> Vec<usize> {
        let mut address: String = address.split_whitespace().collect();
        let township = crate::engine::township_by_address(&address, &self.townships);
        if let Some(at) = township.and_then(|t| address.find(t).map(|at| (at, t.len()))) {
            address.replace_range(at.0..at.0 + at.1, "|");
        }
        let villages = self.villages();
        let Some(names) = &villages.names else {
            return Vec::new();
        };
        let found: Vec<aho_corasick::Match> = names.find_overlapping_iter(&address).collect();
        // A name found inside a longer one found is not meant (东村 in 小东村).
        let held: Vec<usize> = found
            .iter()
            .filter(|m| {
                !found
                    .iter()
                    .any(|o| o.len() > m.len() && o.start() <= m.start() && m.end() <= o.end())
            })
            .flat_map(|m| villages.places_of[m.pattern().as_usize()].iter().copied())
            .collect();
        match township {
            Some(t) => held
                .into_iter()
                .filter(|&i| self.places[i].0 == t)
                .collect(),
            None => held,
        }
    }

    /// Resolves one row from the file's ID text and name.
    pub fn resolve(&self, raw_id: &str, raw_name: &str) -> Resolution {
        self.resolve_at(raw_id, raw_name, "")
    }

    /// Resolves one row from the file's ID text, name and address (empty when the data set
    /// has none): an address that names a roster village adds its members whose name is
    /// alike as candidates, even when nothing of the number is left.
    pub fn resolve_at(&self, raw_id: &str, raw_name: &str, address: &str) -> Resolution {
        let remains = remains(raw_id);
        let places = if address.trim().is_empty() {
            Vec::new()
        } else {
            self.places_in(address)
        };
        if remains == Remains::Nothing && places.is_empty() {
            return Resolution::Unmatched;
        }
        let mut name = String::new();
        normalise_name(raw_name, &mut name);
        // Blocks: the same name; the same region and birth date, or the same birth date and a
        // surname read alike (when the number shows them); a name alike in the village the
        // address names.
        let mut candidates: Vec<u32> = self.by_name.get(name.as_str()).cloned().unwrap_or_default();
        // A name alike (by character or sound) has a surname alike: only the village's members
        // listed under the row's surname are judged.
        if let (false, Some(surname)) = (places.is_empty(), name.chars().next()) {
            let listed = &self.villages().by_place_sound;
            for &at in &places {
                for key in Self::place_sound_keys(at, surname) {
                    candidates.extend(
                        block(listed, key).filter(|&p| name_fit(&name, self.roster.name(p)) >= 0.9),
                    );
                }
            }
        }
        let in_places = |p: u32| {
            places
                .iter()
                .any(|&i| self.places[i].2.binary_search(&p).is_ok())
        };
        let known: &[u8] = match &remains {
            Remains::Digits(d) | Remains::Prefix(d) => d,
            Remains::Nothing => &[],
        };
        if known.len() >= 14 {
            let prefix: Option<u64> = known[..14].iter().try_fold(0_u64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
            });
            if let Some(prefix) = prefix {
                candidates.extend(block(&self.by_birth, prefix));
                // The same birth date and a surname read alike: the region may be the
                // mistyped part, and the name written by ear (章伟 for 张伟).
                let surname = name.chars().next();
                candidates.extend(block(&self.by_day, prefix % 100_000_000).filter(|&p| {
                    let theirs = self.roster.name(p).chars().next();
                    matches!((surname, theirs), (Some(a), Some(b)) if sounds_alike(a, b))
                }));
            }
        }
        // The same region and sequence number and a surname read alike: the birth date may be
        // the mistyped part, and the name written by ear.
        if let Remains::Digits(d) = &remains {
            let number = |r: std::ops::Range<usize>| {
                d.get(r)?.iter().try_fold(0_u64, |acc, &b| {
                    b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
                })
            };
            if let (18, Some(region), Some(sequence)) = (d.len(), number(0..6), number(14..17)) {
                for r in name.chars().next().into_iter().flat_map(readings) {
                    candidates.extend(block(
                        &self.by_sound,
                        sound_key(region * 1_000 + sequence, r),
                    ));
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut scored: Vec<Candidate> = candidates
            .into_iter()
            .filter_map(|p| {
                let digits = self.roster.persons[p as usize].key.digits();
                let fit = id_fit(&remains, &digits);
                let c = confidence(fit, name_fit(&name, self.roster.name(p)), in_places(p));
                (c >= REVIEW).then_some(Candidate {
                    person: p,
                    confidence: c,
                })
            })
            .collect();
        scored.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        match scored.as_slice() {
            [] => Resolution::Unmatched,
            // Two people fit as well: a person decides.
            [best, next, ..] if next.confidence >= best.confidence - 0.05 => {
                scored.truncate(5);
                Resolution::Review(scored)
            }
            [best, ..] if best.confidence >= ACCEPT => Resolution::Matched(*best),
            _ => {
                scored.truncate(5);
                Resolution::Review(scored)
            }
        }
    }

    /// Every failed row of a data set: (part, row, resolution).
    pub fn resolve_dataset(&self, data: &Dataset) -> Vec<(u32, u32, Resolution)> {
        let name_col = data.kind.column("name").map(|(i, _)| i);
        let address_col = data.kind.column("address").map(|(i, _)| i);
        let mut out = Vec::new();
        for (pi, part) in data.parts.iter().enumerate() {
            for (row, raw) in &part.failed_ids {
                let cell = |c: Option<usize>| {
                    c.and_then(|c| part.text(c, *row as usize))
                        .unwrap_or_default()
                };
                let resolution = self.resolve_at(raw, cell(name_col), cell(address_col));
                out.push((pi as u32, *row, resolution));
            }
        }
        out
    }

    /// The member with this key, if any (for confirmed pairs remembered from earlier runs).
    pub fn person(&self, key: IdKey) -> Option<u32> {
        self.roster.person(key.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Corruption, Rng};
    use chrono::NaiveDate;
    use liandong_domain::IdNumber;

    /// A roster of one-person households, all in 城关镇's 东村.
    fn roster(people: &[(&str, &IdNumber)]) -> Roster {
        let placed: Vec<(&str, &IdNumber, &str, &str)> = people
            .iter()
            .map(|&(name, id)| (name, id, "城关镇", "东村"))
            .collect();
        roster_in(&placed)
    }

    fn roster_in(people: &[(&str, &IdNumber, &str, &str)]) -> Roster {
        let mut csv = String::from("户编号,乡镇,村,姓名,身份证号,与户主关系,户类型\n");
        for (i, (name, id, township, village)) in people.iter().enumerate() {
            csv.push_str(&format!(
                "H{i},{township},{village},{name},{},户主,脱贫户\n",
                id.expose()
            ));
        }
        crate::read_roster(csv.as_bytes()).expect("roster")
    }

    /// The number with its digit at `at` changed (to `a`, or to `b` where it was `a`).
    fn with_digit_changed(id: &IdNumber, at: usize, a: u8, b: u8) -> String {
        let mut digits = id.expose().as_bytes().to_vec();
        digits[at] = if digits[at] == a { b } else { a };
        String::from_utf8(digits).expect("ascii")
    }

    fn id(y: i32, m: u32, d: u32, seq: u16) -> IdNumber {
        IdNumber::from_parts("411321", NaiveDate::from_ymd_opt(y, m, d).expect("d"), seq)
            .expect("id")
    }

    #[test]
    fn names_are_alike_by_character_or_by_sound() {
        assert_eq!(name_fit("张伟", "张伟"), 1.0);
        assert_eq!(name_fit("张伟", "章玮"), 0.9);
        // 乐 reads yue and le: a heteronym sounds like either.
        assert_eq!(name_fit("李乐", "李勒"), 0.9);
        assert_eq!(name_fit("张伟", "张强"), 0.7);
        assert_eq!(name_fit("张伟", "王强"), 0.0);
        assert_eq!(name_fit("张伟", "张伟明"), 0.0);
        assert_eq!(name_fit("伟", "玮"), 0.0);
    }

    #[test]
    fn damaged_numbers_with_the_same_name_are_matched() {
        let zhang = id(1970, 3, 4, 123);
        let twin = id(1970, 3, 4, 124);
        let r = roster(&[
            ("张伟", &zhang),
            ("李娜", &twin),
            ("张伟", &id(1980, 1, 1, 5)),
        ]);
        let index = FuzzyIndex::new(&r);
        let mut rng = Rng::new(9);
        for c in [
            Corruption::CheckDigit,
            Corruption::Typo,
            Corruption::Transposition,
        ] {
            let damaged = c.apply(zhang.expose(), &mut rng).expect("applies");
            match index.resolve(&damaged, "张伟") {
                Resolution::Matched(m) => {
                    assert_eq!(m.person, 0, "{c:?} {damaged}");
                    assert!(m.confidence >= ACCEPT);
                }
                other => panic!("{c:?} {damaged}: {other:?}"),
            }
        }
        // Fifteen digits kept by a spreadsheet, and the name: a match.
        let trailing = format!("{}000.0", &zhang.expose()[..15]);
        assert!(
            matches!(index.resolve(&trailing, "张伟"), Resolution::Matched(m) if m.person == 0)
        );
    }

    #[test]
    fn weak_or_ambiguous_evidence_goes_to_a_person_or_nowhere() {
        let zhang = id(1970, 3, 4, 123);
        let r = roster(&[
            ("张伟", &zhang),
            ("张伟", &id(1980, 1, 1, 5)),
            ("王芳", &id(1990, 6, 6, 8)),
        ]);
        let index = FuzzyIndex::new(&r);
        // Only the region survives and two 张伟 live there: a person decides.
        match index.resolve("4.11321E+17", "张伟") {
            Resolution::Review(c) => assert_eq!(c.len(), 2),
            other => panic!("{other:?}"),
        }
        // Only the region and one 王芳: still not sure enough to take.
        assert!(
            matches!(index.resolve("4.11321E+17", "王芳"), Resolution::Review(c) if c[0].person == 2)
        );
        // A name one character off with a near number: shown, not taken.
        let typo = with_digit_changed(&zhang, 17, b'1', b'2');
        assert!(matches!(index.resolve(&typo, "张玮"), Resolution::Review(c) if c[0].person == 0));
        // The same sounds written with other characters (章 for 张) and a near number: a
        // person confirms; a name that only looks alike is weaker still.
        match index.resolve(&typo, "章伟") {
            Resolution::Review(c) => {
                assert_eq!(c[0].person, 0);
                assert!((c[0].confidence - 0.96).abs() < 1e-6, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
        // A mistyped region and the name written by ear: found by birth date and surname.
        let region = with_digit_changed(&zhang, 3, b'3', b'4');
        match index.resolve(&region, "章伟") {
            Resolution::Review(c) => assert_eq!(c[0].person, 0, "{c:?}"),
            other => panic!("{other:?}"),
        }
        // Born the same day, a surname that reads otherwise: not a candidate.
        assert_eq!(index.resolve(&region, "王伟"), Resolution::Unmatched);
        // A mistyped birth date and the name written by ear: found by region, sequence number
        // and the sound of the surname.
        let day = with_digit_changed(&zhang, 11, b'3', b'4');
        match index.resolve(&day, "章伟") {
            Resolution::Review(c) => assert_eq!(c[0].person, 0, "{c:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(index.resolve(&day, "王伟"), Resolution::Unmatched);
        // Nothing to go on.
        assert_eq!(index.resolve("", "张伟"), Resolution::Unmatched);
        assert_eq!(index.resolve("4.11321E+17", "赵六"), Resolution::Unmatched);
    }

    fn persons(r: &Resolution) -> Vec<u32> {
        match r {
            Resolution::Review(c) => c.iter().map(|c| c.person).collect(),
            Resolution::Matched(c) => vec![c.person],
            Resolution::Unmatched => Vec::new(),
        }
    }

    #[test]
    fn an_address_naming_a_village_finds_its_members_by_name_but_never_decides() {
        let r = roster_in(&[
            ("张伟", &id(1970, 3, 4, 123), "城关镇", "东村"),
            ("张伟", &id(1980, 1, 1, 5), "城关镇", "西村"),
            ("章伟", &id(1985, 2, 2, 7), "河口乡", "东村"),
            ("李娜", &id(1990, 6, 6, 8), "城关镇", "小东村"),
            ("王芳", &id(1991, 7, 7, 9), "张村乡", "张村"),
            ("李强", &id(1992, 8, 8, 10), "张村乡", "李庄"),
        ]);
        let index = FuzzyIndex::new(&r);
        // No number at all: the namesake in the village the address names is shown to a
        // person, the one in another village is not.
        let found = index.resolve_at("", "张伟", "城关镇东村三组");
        assert_eq!(persons(&found), [0]);
        assert!(matches!(&found, Resolution::Review(c) if c[0].confidence < ACCEPT));
        assert_eq!(index.resolve("", "张伟"), Resolution::Unmatched);
        assert_eq!(index.resolve_at("", "张伟", "   "), Resolution::Unmatched);
        // Only the region is left: the villager comes first, the namesake elsewhere after.
        match index.resolve_at("4.11321E+17", "张伟", "城关镇东村") {
            Resolution::Review(c) => {
                assert_eq!(c.iter().map(|c| c.person).collect::<Vec<_>>(), [0, 1]);
                assert!(c[0].confidence > c[1].confidence, "{c:?}");
            }
            other => panic!("{other:?}"),
        }
        // Written by ear (章伟 for 张伟) in 城关镇's 东村; 河口乡 has a 东村 too, with a 章伟,
        // but the address names the township.
        assert_eq!(persons(&index.resolve_at("", "章伟", "城关镇东村")), [0]);
        // Without the township both 东村 are meant: the same name first, then the sound alike.
        assert_eq!(persons(&index.resolve_at("", "章伟", "东村5号")), [2, 0]);
        // An address naming a roster township means that township's villages only, even when
        // another township has a village of that name.
        assert_eq!(persons(&index.resolve_at("", "张伟", "河口乡东村")), [2]);
        // A village is not read inside the township's own name: 张村乡李庄 is 李庄.
        assert_eq!(
            index.resolve_at("", "王芳", "张村乡李庄"),
            Resolution::Unmatched
        );
        assert_eq!(persons(&index.resolve_at("", "王芳", "张村乡张村")), [4]);
        // 小东村 is not 东村, and 王芳 is like nobody there.
        assert_eq!(
            index.resolve_at("", "张伟", "城关镇小东村"),
            Resolution::Unmatched
        );
        assert_eq!(
            index.resolve_at("", "王芳", "城关镇东村"),
            Resolution::Unmatched
        );
        // A data set's address column is read for its failed rows; a row without one is not
        // helped.
        let csv = "身份证号,姓名,结算日期,总费用,个人自付,住址\n\
                   ,张伟,2024-03-05,100,50,城关镇东村\n\
                   ,张伟,2024-03-05,100,50,\n";
        let ds = crate::load(
            crate::DataKind::MedicalExpense,
            &[("claims.csv".to_owned(), csv.as_bytes().to_vec())],
        )
        .expect("loads");
        let resolved = index.resolve_dataset(&ds);
        assert_eq!(resolved.len(), 2);
        assert_eq!((resolved[0].1, persons(&resolved[0].2)), (0, vec![0]));
        assert_eq!(resolved[1].2, Resolution::Unmatched);
    }
}
