//! Resident identity numbers (居民身份证号码, GB 11643-1999): normalisation of what real files
//! carry, the check digit (ISO 7064 MOD 11-2), and masking.

use std::fmt;

use chrono::{Datelike, NaiveDate};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Eight ASCII `0`s, the first character in the lowest byte.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Whether each of the eight bytes is an ASCII digit: its high nibble is 3, and still 3 once
/// 6 is added (which carries out of `:` to `?`).
#[inline]
fn eight_digits(w: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    (w & HIGH) | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) == 0x3333_3333_3333_3333
}

/// Eight digit values (0-9, the first in the lowest byte) gathered in pairs: the four
/// two-digit numbers, each in a 16-bit lane, the first in the lowest.
#[inline]
fn pairs_of_8(v: u64) -> u64 {
    (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF
}

/// The number four two-digit lanes of [`pairs_of_8`] spell: fours, then the eight.
#[inline]
fn number_of_pairs(v: u64) -> u64 {
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF
}

/// Lane `k` of [`pairs_of_8`].
#[inline]
fn pair(v: u64, k: u32) -> u32 {
    ((v >> (16 * k)) & 0xFF) as u32
}

/// The four two-digit numbers eight ASCII digits spell, pair by pair (`b"20240305"` gives
/// 20, 24, 3 and 5), or `None` when one of them is not a digit: a few word operations
/// instead of a loop, for readers of ten million cells.
#[inline]
pub fn digit_pairs(digits: [u8; 8]) -> Option<[u32; 4]> {
    let w = u64::from_le_bytes(digits);
    if !eight_digits(w) {
        return None;
    }
    let v = pairs_of_8(w - ZEROS);
    Some([pair(v, 0), pair(v, 1), pair(v, 2), pair(v, 3)])
}

/// The sum of eight digit values times their weights. The even and the odd bytes are spread
/// into 16-bit lanes; multiplying the lanes by the weights in reverse order gathers the sum in
/// the top lane (at most 4 x 9 x 10 per lane, so no lane carries into the next).
#[inline]
fn weighted_8(v: u64, weights: &[u32]) -> u32 {
    const LANES: u64 = 0x00FF_00FF_00FF_00FF;
    let w = |i: usize| u64::from(weights[i]);
    let even = (v & LANES).wrapping_mul(w(0) << 48 | w(2) << 32 | w(4) << 16 | w(6));
    let odd = ((v >> 8) & LANES).wrapping_mul(w(1) << 48 | w(3) << 32 | w(5) << 16 | w(7));
    ((even >> 48) + (odd >> 48)) as u32
}

/// An ID number in canonical form, read but not yet judged: plain values (no error to build),
/// so that the common case costs a few word operations.
struct Canonical {
    /// The 17 digits as one number.
    value: u64,
    /// Digits 1-8 and 9-16 as numbers.
    /// Year, month and day of birth (digits 7 to 14).
    birth: (u32, u32, u32),
    /// The weighted sum of the 17 digits.
    sum: u32,
    /// The check character (a digit or `X`).
    last: u8,
    /// Given as a lowercase `x`.
    lowercase_x: bool,
}

impl Canonical {
    /// `None` unless `raw` is 17 ASCII digits and a digit, `X` or `x`.
    #[inline]
    fn read(raw: &[u8]) -> Option<Canonical> {
        let raw: &[u8; 18] = raw.try_into().ok()?;
        // The first sixteen digits are read as two 8-byte words: checked, turned into numbers
        // and weighted a word at a time.
        let (head, rest) = raw.split_first_chunk::<8>()?;
        let (middle, _) = rest.split_first_chunk::<8>()?;
        let (hi, lo) = (u64::from_le_bytes(*head), u64::from_le_bytes(*middle));
        let last_digit = raw[16].wrapping_sub(b'0');
        if !eight_digits(hi) || !eight_digits(lo) || last_digit > 9 {
            return None;
        }
        let last = match raw[17] {
            b'0'..=b'9' | b'X' => raw[17],
            b'x' => b'X',
            _ => return None,
        };
        let (hi, lo) = (hi - ZEROS, lo - ZEROS);
        // Digits 7 and 8 are the last pair of the first word, 9 to 14 the first three of the
        // second: the birth date is read from the pairs, without dividing the numbers.
        let (hi_pairs, lo_pairs) = (pairs_of_8(hi), pairs_of_8(lo));
        let (first8, next8) = (number_of_pairs(hi_pairs), number_of_pairs(lo_pairs));
        Some(Canonical {
            value: (first8 * 100_000_000 + next8) * 10 + u64::from(last_digit),
            birth: (
                pair(hi_pairs, 3) * 100 + pair(lo_pairs, 0),
                pair(lo_pairs, 1),
                pair(lo_pairs, 2),
            ),
            sum: weighted_8(hi, &WEIGHTS[..8])
                + weighted_8(lo, &WEIGHTS[8..16])
                + u32::from(last_digit) * WEIGHTS[16],
            last,
            lowercase_x: raw[17] == b'x',
        })
    }

    /// The birth date, digits 7 to 14.
    #[inline]
    fn birth_date(&self) -> (u32, u32, u32) {
        self.birth
    }

    #[inline]
    fn date_is_valid(&self) -> bool {
        let (y, m, d) = self.birth_date();
        y >= 1850 && is_calendar_day(y, m, d)
    }

    #[inline]
    fn check_char(&self) -> u8 {
        CHECK_CHARS[(self.sum % 11) as usize]
    }
}

/// Whether `y-m-d` is a day of the Gregorian calendar (the check of every ID number read:
/// plain arithmetic rather than a calendar library, ten million times a run).
fn is_calendar_day(y: u32, m: u32, d: u32) -> bool {
    const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    (1..=12).contains(&m) && d >= 1 && d <= DAYS[m as usize - 1] + u32::from(leap && m == 2)
}

/// Why a value is not a usable ID number. Messages are shown to users as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号为空")]
    Empty,
    #[error("身份证号被表格软件转成了数字（如 4.11321E+17 或末尾 .0），原号码已无法还原，请以文本格式重新导出")]
    MangledBySpreadsheet,
    #[error("身份证号含有非法字符“{0}”")]
    InvalidCharacter(char),
    #[error("身份证号应为 18 位（或旧式 15 位），实际 {0} 位")]
    WrongLength(usize),
    #[error("身份证号中的出生日期 {0} 不存在")]
    InvalidBirthDate(String),
    #[error("身份证号校验码错误：应为 {expected}，实际为 {actual}")]
    CheckDigit { expected: char, actual: char },
}

/// What normalisation had to do to a value, for the run reports that count each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalization {
    /// Leading, trailing or inner white space removed.
    pub removed_spaces: bool,
    /// Full-width digits or letters (０-９, Ｘ) turned into ASCII.
    pub full_width: bool,
    /// A lowercase check letter `x` made uppercase.
    pub lowercase_x: bool,
    /// A 15-digit legacy number expanded to 18 digits.
    pub upgraded_15: bool,
}

impl Normalization {
    pub fn changed(&self) -> bool {
        self.removed_spaces || self.full_width || self.lowercase_x || self.upgraded_15
    }
}

/// A valid 18-character resident ID number, in canonical form (digits and an uppercase `X`).
///
/// `Display` and `Debug` show it masked (`4113**********1234`); only [`IdNumber::expose`]
/// gives the full value, for storage and for roles allowed to see it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses a value, normalising it as [`IdNumber::normalize`] does.
    pub fn parse(s: &str) -> Result<IdNumber, IdNumberError> {
        IdNumber::normalize(s).map(|(id, _)| id)
    }

    /// Normalises a value from an outside file: trims and removes spaces, converts full-width
    /// characters, uppercases `x`, expands 15-digit numbers; refuses spreadsheet-mangled ones.
    pub fn normalize(raw: &str) -> Result<(IdNumber, Normalization), IdNumberError> {
        let mut steps = Normalization::default();
        let mut chars = String::with_capacity(18);
        for c in raw.chars() {
            let c = match c {
                '\u{FF10}'..='\u{FF19}' => {
                    steps.full_width = true;
                    char::from(b'0' + (c as u32 - 0xFF10) as u8)
                }
                '\u{FF38}' | '\u{FF58}' => {
                    steps.full_width = true;
                    if c == '\u{FF58}' {
                        steps.lowercase_x = true;
                    }
                    'X'
                }
                '\u{FF0E}' => {
                    steps.full_width = true;
                    '.'
                }
                '\u{FF25}' | '\u{FF45}' => {
                    steps.full_width = true;
                    'E'
                }
                '\u{FF0B}' => {
                    steps.full_width = true;
                    '+'
                }
                c if c.is_whitespace() || c == '\u{3000}' => {
                    steps.removed_spaces = true;
                    continue;
                }
                'x' => {
                    steps.lowercase_x = true;
                    'X'
                }
                c => c,
            };
            chars.push(c);
        }
        if chars.is_empty() {
            return Err(IdNumberError::Empty);
        }
        if looks_mangled(&chars) {
            return Err(IdNumberError::MangledBySpreadsheet);
        }
        if let Some(bad) = chars
            .chars()
            .enumerate()
            .find(|&(i, c)| !(c.is_ascii_digit() || (c == 'X' && i == chars.len() - 1)))
            .map(|(_, c)| c)
        {
            return Err(IdNumberError::InvalidCharacter(bad));
        }
        let body = match chars.len() {
            18 => chars,
            15 => {
                if chars.ends_with('X') {
                    return Err(IdNumberError::InvalidCharacter('X'));
                }
                steps.upgraded_15 = true;
                // Legacy numbers omit the century (always 19) and the check digit.
                let mut s = String::with_capacity(18);
                s.push_str(&chars[..6]);
                s.push_str("19");
                s.push_str(&chars[6..]);
                s.push(char::from(check_char(&s)));
                s
            }
            n => return Err(IdNumberError::WrongLength(n)),
        };
        let birth = &body[6..14];
        if birth_date_of(&body).is_none() {
            return Err(IdNumberError::InvalidBirthDate(format!(
                "{}-{}-{}",
                &birth[..4],
                &birth[4..6],
                &birth[6..]
            )));
        }
        let expected = char::from(check_char(&body[..17]));
        let actual = body.chars().last().unwrap_or(' ');
        if expected != actual {
            return Err(IdNumberError::CheckDigit { expected, actual });
        }
        Ok((IdNumber(body), steps))
    }

    /// The full number: for storage, keyed hashing, and roles allowed to see it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form shown by default: the first 4 and the last 4 characters.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    /// The compact key data comparison joins on.
    pub fn key(&self) -> IdKey {
        IdKey(
            self.0.as_bytes()[..17]
                .iter()
                .fold(0, |acc, b| acc * 10 + u64::from(b - b'0')),
        )
    }

    /// The administrative division code of the place of first registration.
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> NaiveDate {
        birth_date_of(&self.0).unwrap_or(NaiveDate::MIN)
    }

    /// Sex from the sequence code: odd is male.
    pub fn sex(&self) -> Sex {
        let d = self.0.as_bytes()[16] - b'0';
        if d % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in whole years on `on`.
    pub fn age_on(&self, on: NaiveDate) -> i32 {
        let b = self.birth_date();
        let mut age = on.year() - b.year();
        if (on.month(), on.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }

    /// Builds a valid number from its parts (used by the synthetic demo county and tests).
    pub fn from_parts(region: &str, birth: NaiveDate, sequence: u16) -> Option<IdNumber> {
        if region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit()) || sequence > 999 {
            return None;
        }
        let body = format!("{region}{}{sequence:03}", birth.format("%Y%m%d"));
        let c = char::from(check_char(&body));
        Some(IdNumber(format!("{body}{c}")))
    }
}

/// A valid ID number as a number: its first 17 digits (the check character follows from
/// them). Eight bytes instead of an 18-byte string, so that data comparison can hold tens of
/// millions of them and join on them cheaply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdKey(u64);

impl IdKey {
    /// Normalises a value as [`IdNumber::normalize`] does, giving the same answer for every
    /// input; the common case (18 ASCII characters) is checked without building a string.
    pub fn normalize(raw: &[u8]) -> Result<(IdKey, Normalization), IdNumberError> {
        if let Some(fast) = Self::canonical(raw) {
            return fast;
        }
        let s =
            std::str::from_utf8(raw).map_err(|_| IdNumberError::InvalidCharacter('\u{FFFD}'))?;
        IdNumber::normalize(s).map(|(id, n)| (id.key(), n))
    }

    /// The key of an ID number given exactly in canonical form (18 characters, an upper-case
    /// `X`, valid); `None` for anything else, which [`IdKey::normalize`] then settles. What
    /// most rows of every data set hold, answered without building an error.
    #[inline]
    pub fn canonical_key(raw: &[u8]) -> Option<IdKey> {
        let read = Canonical::read(raw)?;
        (!read.lowercase_x && read.date_is_valid() && read.check_char() == read.last)
            .then_some(IdKey(read.value))
    }

    /// `None` when `raw` is not 17 ASCII digits followed by a digit, `X` or `x`.
    fn canonical(raw: &[u8]) -> Option<Result<(IdKey, Normalization), IdNumberError>> {
        let read = Canonical::read(raw)?;
        let steps = Normalization {
            lowercase_x: read.lowercase_x,
            ..Normalization::default()
        };
        if !read.date_is_valid() {
            let (y, m, d) = read.birth_date();
            return Some(Err(IdNumberError::InvalidBirthDate(format!(
                "{y:04}-{m:02}-{d:02}"
            ))));
        }
        let expected = read.check_char();
        if expected != read.last {
            return Some(Err(IdNumberError::CheckDigit {
                expected: char::from(expected),
                actual: char::from(read.last),
            }));
        }
        Some(Ok((IdKey(read.value), steps)))
    }

    /// The 17 digits as one number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// Rebuilds a key from [`IdKey::get`]; `None` unless it holds a valid birth date.
    pub fn from_u64(v: u64) -> Option<IdKey> {
        let ymd = (v / 1_000) % 100_000_000;
        let (y, m, d) = (ymd / 10_000, (ymd / 100) % 100, ymd % 100);
        (v < 100_000_000_000_000_000
            && y >= 1850
            && NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).is_some())
        .then_some(IdKey(v))
    }

    /// The 18 characters of the number, without building a string.
    pub fn digits(self) -> [u8; 18] {
        let mut out = [b'0'; 18];
        let mut v = self.0;
        let mut sum = 0_u32;
        for i in (0..17).rev() {
            let d = (v % 10) as u8;
            out[i] = b'0' + d;
            sum += u32::from(d) * WEIGHTS[i];
            v /= 10;
        }
        out[17] = CHECK_CHARS[(sum % 11) as usize];
        out
    }

    /// The full number, check character included.
    pub fn id_number(self) -> IdNumber {
        let body = format!("{:017}", self.0);
        let c = char::from(check_char(&body));
        IdNumber(format!("{body}{c}"))
    }

    /// The birth date, from the digits alone.
    pub fn birth_date(self) -> NaiveDate {
        let ymd = (self.0 / 1_000) % 100_000_000;
        NaiveDate::from_ymd_opt(
            (ymd / 10_000) as i32,
            ((ymd / 100) % 100) as u32,
            (ymd % 100) as u32,
        )
        .unwrap_or(NaiveDate::MIN)
    }

    /// The six-digit division code of the place of first registration.
    pub fn region(self) -> u32 {
        (self.0 / 100_000_000_000) as u32
    }

    /// Age in whole years on `on`.
    pub fn age_on(self, on: NaiveDate) -> i32 {
        let b = self.birth_date();
        let mut age = on.year() - b.year();
        if (on.month(), on.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        age
    }
}

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdKey({})", self.id_number().masked())
    }
}

/// A value the way spreadsheets print an ID they took for a number.
fn looks_mangled(s: &str) -> bool {
    let has_exponent =
        s.contains(['E', 'e']) && s.chars().next().is_some_and(|c| c.is_ascii_digit());
    let has_decimal = s.contains('.') && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    has_exponent || has_decimal
}

fn birth_date_of(body: &str) -> Option<NaiveDate> {
    let y: i32 = body.get(6..10)?.parse().ok()?;
    let m: u32 = body.get(10..12)?.parse().ok()?;
    let d: u32 = body.get(12..14)?.parse().ok()?;
    if y < 1850 {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The check character of the first 17 digits (ISO 7064 MOD 11-2).
fn check_char(first17: &str) -> u8 {
    let sum: u32 = first17
        .bytes()
        .take(17)
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn label(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 11010519491231002X is the standard's own worked example.
    const EXAMPLE: &str = "11010519491231002X";

    fn ok(s: &str) -> (String, Normalization) {
        let (id, n) = IdNumber::normalize(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (id.expose().to_owned(), n)
    }

    #[test]
    fn eight_digits_read_as_their_pairs_and_nothing_else_does() {
        for n in (0..100_000_000_u32)
            .step_by(9_973)
            .chain([0, 9_999_999, 99_999_999])
        {
            let text = format!("{n:08}");
            let digits: [u8; 8] = text.as_bytes().try_into().expect("eight");
            let pairs = [n / 1_000_000, n / 10_000 % 100, n / 100 % 100, n % 100];
            assert_eq!(digit_pairs(digits), Some(pairs), "{text}");
            // Any byte but a digit, in any place, is refused.
            for at in 0..8 {
                for b in (0..=u8::MAX).filter(|b| !b.is_ascii_digit()).step_by(7) {
                    let mut bad = digits;
                    bad[at] = b;
                    assert_eq!(digit_pairs(bad), None, "{bad:?}");
                }
            }
        }
    }

    #[test]
    fn the_calendar_check_agrees_with_the_calendar() {
        for y in 1840..=2420 {
            for m in 0..=13 {
                for d in 0..=32 {
                    assert_eq!(
                        is_calendar_day(y, m, d),
                        NaiveDate::from_ymd_opt(y as i32, m, d).is_some(),
                        "{y}-{m}-{d}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_standard_example_is_valid() {
        let (id, n) = ok(EXAMPLE);
        assert_eq!(id, EXAMPLE);
        assert!(!n.changed());
        let id = IdNumber::parse(EXAMPLE).expect("valid");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).expect("date")
        );
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
    }

    #[test]
    fn check_digits_computed_by_hand() {
        // 41132119900101123: digits x weights sum to 183, 183 mod 11 = 7 -> '5'.
        assert_eq!(char::from(check_char("41132119900101123")), '5');
        assert!(IdNumber::parse("411321199001011235").is_ok());
        assert_eq!(
            IdNumber::parse("411321199001011234"),
            Err(IdNumberError::CheckDigit {
                expected: '5',
                actual: '4'
            })
        );
    }

    #[test]
    fn every_position_change_is_caught_by_the_check_digit() {
        let good = "411321199001011235";
        for i in 0..17 {
            let mut b = good.as_bytes().to_vec();
            b[i] = if b[i] == b'9' { b'8' } else { b[i] + 1 };
            let s = String::from_utf8(b).expect("ascii");
            assert!(IdNumber::parse(&s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn normalises_spaces_full_width_and_lowercase_x() {
        let (id, n) = ok(" 110105 19491231 002x ");
        assert_eq!(id, EXAMPLE);
        assert!(n.removed_spaces && n.lowercase_x && !n.full_width);
        let (id, n) = ok("１１０１０５１９４９１２３１００２Ｘ");
        assert_eq!(id, EXAMPLE);
        assert!(n.full_width && !n.lowercase_x);
        let (id, _) = ok("11010519491231002\u{3000}X");
        assert_eq!(id, EXAMPLE);
    }

    #[test]
    fn fifteen_digits_gain_century_and_check_digit() {
        // 110105491231002 is the 15-digit form of the standard's example.
        let (id, n) = ok("110105491231002");
        assert_eq!(id, EXAMPLE);
        assert!(n.upgraded_15);
    }

    #[test]
    fn spreadsheet_mangled_numbers_are_refused_not_guessed() {
        for s in [
            "4.11321E+17",
            "4.11321e+17",
            "411321199001011000.0",
            "4.11321199001011E17",
            "４.１１３２１Ｅ＋１７",
        ] {
            assert_eq!(
                IdNumber::normalize(s).map(|_| ()),
                Err(IdNumberError::MangledBySpreadsheet),
                "{s}"
            );
        }
    }

    #[test]
    fn other_bad_values_say_what_is_wrong() {
        assert_eq!(
            IdNumber::normalize("  ").map(|_| ()),
            Err(IdNumberError::Empty)
        );
        assert_eq!(
            IdNumber::normalize("41132119900101123").map(|_| ()),
            Err(IdNumberError::WrongLength(17))
        );
        assert_eq!(
            IdNumber::normalize("4113211990010112A5").map(|_| ()),
            Err(IdNumberError::InvalidCharacter('A'))
        );
        assert_eq!(
            IdNumber::normalize("41132119900X011235").map(|_| ()),
            Err(IdNumberError::InvalidCharacter('X'))
        );
        assert_eq!(
            IdNumber::normalize("411321199002301230").map(|_| ()),
            Err(IdNumberError::InvalidBirthDate("1990-02-30".into()))
        );
        assert!(IdNumber::normalize("41132190023012X").is_err());
    }

    /// Every input the fast path takes answers exactly as the general path does.
    #[test]
    fn the_key_agrees_with_the_general_normalisation() {
        let mut inputs: Vec<String> = vec![
            EXAMPLE.into(),
            "11010519491231002x".into(),
            "110105194912310021".into(),
            "110105194902300021".into(),
            "110105184912310021".into(),
            "1101051949123100X2".into(),
            "4.11321E+17".into(),
            " 11010519491231002X".into(),
            "110105491231002".into(),
            "１１０１０５１９４９１２３１００２Ｘ".into(),
            "".into(),
        ];
        // Every single-digit change and every transposition of the example, and bytes just
        // outside the digits in every position.
        for i in 0..18 {
            for c in [b'/', b':', b' ', b'X', b'x', 0xFF] {
                let mut b = EXAMPLE.as_bytes().to_vec();
                b[i] = c;
                inputs.push(String::from_utf8_lossy(&b).into_owned());
            }
            for d in b'0'..=b'9' {
                let mut b = EXAMPLE.as_bytes().to_vec();
                b[i] = d;
                inputs.push(String::from_utf8(b).expect("ascii"));
            }
            if i < 17 {
                let mut b = EXAMPLE.as_bytes().to_vec();
                b.swap(i, i + 1);
                inputs.push(String::from_utf8(b).expect("ascii"));
            }
        }
        for s in &inputs {
            let general = IdNumber::normalize(s).map(|(id, n)| (id.expose().to_owned(), n));
            let fast =
                IdKey::normalize(s.as_bytes()).map(|(k, n)| (k.id_number().expose().to_owned(), n));
            assert_eq!(fast, general, "{s:?}");
        }
        assert_eq!(
            IdKey::normalize(b"\xff\xfe").map(|_| ()),
            Err(IdNumberError::InvalidCharacter('\u{FFFD}'))
        );
    }

    /// The word-at-a-time helpers against plain loops: every byte value in every position,
    /// and digit words from a simple generator.
    #[test]
    fn word_arithmetic_agrees_with_digit_by_digit() {
        for pos in 0..8 {
            for b in 0..=255_u8 {
                let mut bytes = *b"57319024";
                bytes[pos] = b;
                assert_eq!(
                    eight_digits(u64::from_le_bytes(bytes)),
                    bytes.iter().all(u8::is_ascii_digit),
                    "{bytes:?}"
                );
            }
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits: [u8; 8] = std::array::from_fn(|i| ((seed >> (i * 7)) % 10) as u8);
            let v = u64::from_le_bytes(digits);
            let number = digits.iter().fold(0, |n, &d| n * 10 + u64::from(d));
            assert_eq!(number_of_pairs(pairs_of_8(v)), number, "{digits:?}");
            for weights in [&WEIGHTS[..8], &WEIGHTS[8..16]] {
                let sum: u32 = digits
                    .iter()
                    .zip(weights)
                    .map(|(&d, w)| u32::from(d) * w)
                    .sum();
                assert_eq!(weighted_8(v, weights), sum, "{digits:?}");
            }
        }
    }

    /// Valid numbers over many birth dates and sequence numbers read back to their digits.
    #[test]
    fn canonical_keys_spell_their_digits() {
        let mut day = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
        let mut n = 0_u32;
        while day.year() < 2030 {
            let first17 = format!("4113{:02}{}{:03}", n % 100, day.format("%Y%m%d"), n % 1000);
            let id = format!("{first17}{}", char::from(check_char(&first17)));
            let key = IdKey::canonical_key(id.as_bytes()).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(
                key.get().to_string(),
                format!("{:0>17}", first17.trim_start_matches('0'))
            );
            assert_eq!(key.id_number().expose(), id);
            day += chrono::Duration::days(3);
            n += 7;
        }
    }

    #[test]
    fn the_key_knows_birth_date_region_and_age() {
        let id = IdNumber::parse(EXAMPLE).expect("valid");
        let k = id.key();
        assert_eq!(k.get(), 11010519491231002);
        assert_eq!(k.id_number(), id);
        assert_eq!(&k.digits(), id.expose().as_bytes());
        assert_eq!(k.birth_date(), id.birth_date());
        assert_eq!(k.region(), 110105);
        let on = NaiveDate::from_ymd_opt(2023, 12, 30).expect("date");
        assert_eq!(k.age_on(on), 73);
        assert_eq!(IdKey::from_u64(k.get()), Some(k));
        assert_eq!(IdKey::from_u64(11010519491331002), None);
        assert_eq!(IdKey::from_u64(u64::MAX), None);
        assert!(!format!("{k:?}").contains("1949"));
    }

    #[test]
    fn masking_hides_the_birth_date() {
        let id = IdNumber::parse(EXAMPLE).expect("valid");
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(id.to_string(), "1101**********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }

    #[test]
    fn built_from_parts_is_valid_and_ages_count_birthdays() {
        let birth = NaiveDate::from_ymd_opt(2010, 9, 1).expect("date");
        let id = IdNumber::from_parts("411321", birth, 123).expect("parts");
        assert!(IdNumber::parse(id.expose()).is_ok());
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2023, 8, 31).expect("date")),
            12
        );
        assert_eq!(
            id.age_on(NaiveDate::from_ymd_opt(2023, 9, 1).expect("date")),
            13
        );
        assert!(IdNumber::from_parts("4113", birth, 1).is_none());
        assert!(IdNumber::from_parts("411321", birth, 1000).is_none());
    }
}
