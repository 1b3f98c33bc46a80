//! The hash chain of the operation log (操作日志): each entry's hash covers its own fields and
//! the previous entry's hash, so an edited, inserted or deleted row breaks the chain.

use sha2::{Digest, Sha256};

/// The "previous hash" of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one entry that the hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields<'a> {
    pub id: i64,
    /// Unix seconds (UTC).
    pub at: i64,
    pub actor: &'a str,
    pub role: &'a str,
    pub source: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// The entry's hash, hex-encoded.
pub fn entry_hash(prev: &str, f: &AuditFields<'_>) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields: no two different entries serialise to the same bytes.
    let mut field = |tag: u8, bytes: &[u8]| {
        h.update([tag]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b'p', prev.as_bytes());
    field(b'i', &f.id.to_be_bytes());
    field(b't', &f.at.to_be_bytes());
    field(b'u', f.actor.as_bytes());
    field(b'r', f.role.as_bytes());
    field(b's', f.source.as_bytes());
    field(b'a', f.action.as_bytes());
    field(b'g', f.target.as_bytes());
    match f.before {
        Some(b) => field(b'b', b.as_bytes()),
        None => field(b'B', &[]),
    }
    match f.after {
        Some(a) => field(b'f', a.as_bytes()),
        None => field(b'F', &[]),
    }
    hex::encode(h.finalize())
}

/// The first place where a chain read in id order is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("第 {id} 条记录的内容与其哈希不符（记录被修改）")]
    Altered { id: i64 },
    #[error("第 {id} 条记录的前序哈希与上一条不符（其前有记录被删除或插入）")]
    Broken { id: i64 },
    #[error("日志末尾的记录缺失：最后一条应为第 {expected_last} 条，实际为第 {actual_last} 条")]
    Truncated {
        expected_last: i64,
        actual_last: i64,
    },
}

/// Walks the chain incrementally: feed entries in id order, then `finish` against the head.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: String,
    last_id: i64,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev: GENESIS.to_owned(),
            last_id: 0,
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks one entry with its stored previous hash and hash.
    pub fn feed(
        &mut self,
        f: &AuditFields<'_>,
        stored_prev: &str,
        stored_hash: &str,
    ) -> Result<(), ChainBreak> {
        if stored_prev != self.prev {
            return Err(ChainBreak::Broken { id: f.id });
        }
        if entry_hash(stored_prev, f) != stored_hash {
            return Err(ChainBreak::Altered { id: f.id });
        }
        self.prev = stored_hash.to_owned();
        self.last_id = f.id;
        self.checked += 1;
        Ok(())
    }

    /// Compares the end of the walk with the recorded head (last id and hash), which catches
    /// rows deleted from the end of the log.
    pub fn finish(self, head_id: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        if head_id != self.last_id || head_hash != self.prev {
            return Err(ChainBreak::Truncated {
                expected_last: head_id,
                actual_last: self.last_id,
            });
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        id: i64,
        action: String,
        prev: String,
        hash: String,
    }

    fn fields(r: &Row) -> AuditFields<'_> {
        AuditFields {
            id: r.id,
            at: 1_700_000_000 + r.id,
            actor: "admin",
            role: "office_admin",
            source: "127.0.0.1",
            action: &r.action,
            target: "user:1",
            before: None,
            after: Some("{}"),
        }
    }

    fn chain(n: i64) -> Vec<Row> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let mut r = Row {
                    id,
                    action: format!("act{id}"),
                    prev: prev.clone(),
                    hash: String::new(),
                };
                r.hash = entry_hash(&prev, &fields(&r));
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn verify(rows: &[Row], head: (i64, &str)) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in rows {
            v.feed(&fields(r), &r.prev, &r.hash)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let head = (5, rows[4].hash.clone());
        assert_eq!(verify(&rows, (head.0, &head.1)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS)), Ok(0));
    }

    #[test]
    fn an_edited_row_is_named() {
        let mut rows = chain(5);
        let head = rows[4].hash.clone();
        rows[2].action = "forged".into();
        assert_eq!(
            verify(&rows, (5, &head)),
            Err(ChainBreak::Altered { id: 3 })
        );
    }

    #[test]
    fn a_deleted_row_breaks_the_next() {
        let mut rows = chain(5);
        let head = rows[4].hash.clone();
        rows.remove(1);
        assert_eq!(verify(&rows, (5, &head)), Err(ChainBreak::Broken { id: 3 }));
    }

    #[test]
    fn a_deleted_tail_is_caught_by_the_head() {
        let mut rows = chain(5);
        let head = rows[4].hash.clone();
        rows.pop();
        assert_eq!(
            verify(&rows, (5, &head)),
            Err(ChainBreak::Truncated {
                expected_last: 5,
                actual_last: 4
            })
        );
    }

    #[test]
    fn field_boundaries_matter() {
        let a = AuditFields {
            id: 1,
            at: 0,
            actor: "ab",
            role: "c",
            source: "",
            action: "",
            target: "",
            before: None,
            after: None,
        };
        let b = AuditFields {
            actor: "a",
            role: "bc",
            ..a.clone()
        };
        assert_ne!(entry_hash(GENESIS, &a), entry_hash(GENESIS, &b));
        let c = AuditFields {
            before: Some(""),
            ..a.clone()
        };
        assert_ne!(entry_hash(GENESIS, &a), entry_hash(GENESIS, &c));
    }
}
