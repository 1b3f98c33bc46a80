//! ID keys to places: the roster's index, asked once for every row of a data set.
//!
//! Ten million rows ask a million-entry index larger than the cache, and most of them (people
//! outside the roster) are not in it. A small filter that stays in the cache turns those away
//! first; the keys it lets through have their first slot read a batch at a time, so that the
//! waits for memory overlap instead of following one another.

/// Keys whose slots are read together.
pub const BATCH: usize = 16;

/// The key of an empty slot (no ID key is 0: a key holds a birth date).
const EMPTY: u64 = 0;

/// Keys the filter holds per 64-bit word (about 3% of absent keys then pass it).
const KEYS_PER_WORD: usize = 8;

/// A key and its value.
type Slot = [u64; 2];

/// Keys (17-digit ID keys, never 0) to `u32` values, filled once and then read.
#[derive(Debug, Clone)]
pub struct KeyIndex {
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: the hash's top bits pick the slot.
    shift: u32,
    /// Three bits of one word set for each key: a key with any of its bits clear is absent.
    filter: Vec<u64>,
    filter_shift: u32,
    len: usize,
}

/// Two indexes are equal when they hold the same keys with the same values, however their
/// tables are laid out.
impl PartialEq for KeyIndex {
    fn eq(&self, other: &KeyIndex) -> bool {
        self.len == other.len
            && self
                .slots
                .iter()
                .filter(|s| s[0] != EMPTY)
                .all(|&[k, v]| other.get(k) == Some(v as u32))
    }
}

impl Eq for KeyIndex {}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex::with_capacity(0)
    }
}

/// Multiplying spreads the key's digits into the top bits, which pick slot and filter word.
#[inline]
fn hash(key: u64) -> u64 {
    (key ^ (key >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// `size` empty slots, written: a table asked of the allocator as zeros would come as the
/// shared page of zeros, each page copied on its first write after being read (a key's slot
/// is read before it is written), a costly fault.
fn empty_slots(size: usize) -> Vec<Slot> {
    let mut slots = Vec::with_capacity(size);
    slots.resize_with(size, || [EMPTY, 0]);
    slots
}

impl KeyIndex {
    /// Room for `n` keys without growing: at most seven slots in ten taken.
    pub fn with_capacity(n: usize) -> KeyIndex {
        let size = (n * 10 / 7 + 1).next_power_of_two().max(16);
        let words = (n / KEYS_PER_WORD + 1).next_power_of_two();
        KeyIndex {
            slots: empty_slots(size),
            shift: 64 - size.trailing_zeros(),
            filter: vec![0; words],
            filter_shift: 64 - words.trailing_zeros(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    /// The filter word of hash `h` and the three bits the key sets in it, taken from the
    /// hash's bits below those that pick the word.
    #[inline]
    fn filter_bits(&self, h: u64) -> (usize, u64) {
        // A shift by 64 (a one-word filter) would overflow: the word is then 0.
        let word = h.checked_shr(self.filter_shift).unwrap_or(0) as usize;
        let rest = h << (64 - self.filter_shift);
        let bits = (1 << (rest >> 58)) | (1 << ((rest >> 52) & 63)) | (1 << ((rest >> 46) & 63));
        (word, bits)
    }

    #[inline]
    fn may_hold(&self, h: u64) -> bool {
        let (word, bits) = self.filter_bits(h);
        self.filter[word] & bits == bits
    }

    /// The value of `key`, if it is in the index.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        let h = hash(key);
        if key == EMPTY || !self.may_hold(h) {
            return None;
        }
        self.probe(key, self.home(h))
    }

    /// The value of `key`, looked for from slot `i` on.
    #[inline]
    fn probe(&self, key: u64, mut i: usize) -> Option<u32> {
        let mask = self.slots.len() - 1;
        loop {
            let [k, v] = self.slots[i];
            if k == key {
                return Some(v as u32);
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts `key` with `value`, or gives the value it already has (which is kept).
    ///
    /// # Panics
    /// When `key` is 0, which no ID key is.
    pub fn insert_or_get(&mut self, key: u64, value: u32) -> Option<u32> {
        assert_ne!(key, EMPTY, "an ID key is never 0");
        if (self.len + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        let h = hash(key);
        let mask = self.slots.len() - 1;
        let mut i = self.home(h);
        loop {
            let s = &mut self.slots[i];
            if s[0] == key {
                return Some(s[1] as u32);
            }
            if s[0] == EMPTY {
                *s = [key, u64::from(value)];
                self.len += 1;
                let (word, bits) = self.filter_bits(h);
                self.filter[word] |= bits;
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Reads the first slots of `keys` together, before they are put one by one: their waits
    /// for memory overlap instead of following one another.
    pub fn warm(&self, keys: impl Iterator<Item = u64>) {
        let mut seen = 0;
        for k in keys {
            seen ^= self.slots[self.home(hash(k))][0];
        }
        std::hint::black_box(seen);
    }

    fn grow(&mut self) {
        let old = std::mem::replace(self, KeyIndex::with_capacity(self.slots.len()));
        for [k, v] in old.slots.into_iter().filter(|s| s[0] != EMPTY) {
            self.insert_or_get(k, v as u32);
        }
    }

    /// The value of each item's key ([`u32::MAX`] for none or no key). The keys the filter
    /// lets through are taken a batch at a time, and the first slot of each is read before
    /// any is compared.
    pub fn get_all<T>(&self, items: &[T], key: impl Fn(&T) -> Option<u64>) -> Vec<u32> {
        let mut out = vec![u32::MAX; items.len()];
        let mut batch = [(0_usize, EMPTY, 0_usize); BATCH];
        let mut taken = 0;
        for (i, item) in items.iter().enumerate() {
            let Some(k) = key(item).filter(|&k| k != EMPTY) else {
                continue;
            };
            let h = hash(k);
            if !self.may_hold(h) {
                continue;
            }
            batch[taken] = (i, k, self.home(h));
            taken += 1;
            if taken == BATCH {
                self.answer(&batch, &mut out);
                taken = 0;
            }
        }
        self.answer(&batch[..taken], &mut out);
        out
    }

    /// Answers a batch of (row, key, home slot).
    #[inline]
    fn answer(&self, batch: &[(usize, u64, usize)], out: &mut [u32]) {
        let mut first: [Slot; BATCH] = [[EMPTY, 0]; BATCH];
        for (f, &(_, _, home)) in first.iter_mut().zip(batch) {
            *f = self.slots[home];
        }
        for (f, &(row, key, home)) in first.iter().zip(batch) {
            out[row] = if f[0] == key {
                f[1] as u32
            } else if f[0] == EMPTY {
                u32::MAX
            } else {
                self.probe(key, home).unwrap_or(u32::MAX)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_and_repeats_keep_their_first_value() {
        let mut index = KeyIndex::with_capacity(3);
        // Keys of one birth date and region, told apart by the last digits only.
        let keys: Vec<u64> = (0..5_000).map(|i| 41_132_119_900_101_000 + i).collect();
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(index.insert_or_get(k, i as u32), None);
        }
        assert_eq!(index.len(), keys.len());
        assert_eq!(index.insert_or_get(keys[7], 99), Some(7));
        assert_eq!(index.len(), keys.len());
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(index.get(k), Some(i as u32));
        }
        assert_eq!(index.get(41_132_119_900_101_000 + 5_000), None);
        assert_eq!(index.get(0), None);
    }

    #[test]
    fn answers_as_a_general_map_does() {
        // Repeats among the keys, as a roster with the same ID twice has.
        let pairs: Vec<(u64, u32)> = (0..20_000_u64)
            .map(|i| (11_010_519_491_231_000 + i * 7_919 % 15_000, i as u32))
            .collect();
        let mut map = std::collections::HashMap::new();
        let mut expected_repeats = Vec::new();
        for (i, &(k, v)) in pairs.iter().enumerate() {
            match map.entry(k) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    expected_repeats.push((i, *first.get()));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(v);
                }
            }
        }
        // Grown from a small table, filter and all.
        let mut all = KeyIndex::with_capacity(10);
        let mut repeats = Vec::new();
        for (i, &(k, v)) in pairs.iter().enumerate() {
            if let Some(first) = all.insert_or_get(k, v) {
                repeats.push((i, first));
            }
        }
        assert_eq!(repeats, expected_repeats);
        assert!(!repeats.is_empty());
        assert_eq!(all.len(), map.len());
        let asked: Vec<Option<u64>> = (0..30_000_u64)
            .map(|i| (i % 11 != 0).then_some(11_010_519_491_231_000 + i * 13 % 120_000))
            .collect();
        let got = all.get_all(&asked, |k| *k);
        let want: Vec<u32> = asked
            .iter()
            .map(|k| k.and_then(|k| map.get(&k).copied()).unwrap_or(u32::MAX))
            .collect();
        assert_eq!(got, want);
        assert!(got.contains(&u32::MAX) && got.iter().any(|&v| v != u32::MAX));
    }

    #[test]
    fn indexes_are_equal_by_what_they_hold() {
        let keys = [
            41_132_119_900_101_011_u64,
            41_132_119_900_101_022,
            11_010_519_491_231_002,
        ];
        let mut a = KeyIndex::with_capacity(3);
        let mut b = KeyIndex::with_capacity(1_000);
        for (i, &k) in keys.iter().enumerate() {
            a.insert_or_get(k, i as u32);
        }
        for (i, &k) in keys.iter().enumerate().rev() {
            b.insert_or_get(k, i as u32);
        }
        assert_eq!(a, b);
        let mut c = KeyIndex::default();
        for &k in &keys {
            c.insert_or_get(k, 7);
        }
        assert_ne!(a, c);
        c.insert_or_get(41_132_119_900_101_033, 1);
        assert_ne!(c, a);
    }
}
