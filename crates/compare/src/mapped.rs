//! Files read in place through the page cache (memory-mapped) instead of copied into memory.
//!
//! The one place of the project that uses `unsafe`: a mapping is only sound while no other
//! process changes the file. Data exports and rosters are files a person saved and handed to
//! a command; the cost of reading them the ordinary way was a copy of every byte and as much
//! fresh memory again (a tenth of the comparison's time on a 550 MB file). If a file is cut
//! short while it is being read, the process stops with a bus error rather than reading on.

#![allow(unsafe_code)]

use std::fs::File;
use std::ops::Deref;

/// A file's bytes, or part of them, read where the page cache holds them.
pub struct MappedBytes(Inner);

enum Inner {
    Map(memmap2::Mmap),
    /// An empty range, which cannot be mapped.
    Empty,
}

impl MappedBytes {
    /// `len` bytes of `file` from byte `offset` (any offset: the mapping starts at the page
    /// before it). The caller has checked that the file is at least `offset + len` long.
    pub fn range(file: &File, offset: u64, len: usize) -> std::io::Result<MappedBytes> {
        if len == 0 {
            return Ok(MappedBytes(Inner::Empty));
        }
        // SAFETY: the mapping is read-only and private to this value; the file is one the
        // user named for reading, which nothing in this process writes (see the module note
        // for a file changed by another process meanwhile).
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .populate()
                .map(file)?
        };
        // Read front to back, once.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedBytes(Inner::Map(map)))
    }

    /// A whole file.
    pub fn file(file: &File) -> std::io::Result<MappedBytes> {
        let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        MappedBytes::range(file, 0, len)
    }
}

impl Deref for MappedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Inner::Map(m) => m,
            Inner::Empty => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_what_the_file_holds() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f.csv");
        // Longer than a page, so that ranges start inside one and cross into the next.
        let text: Vec<u8> = (0..10_000_u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &text).expect("write");
        let file = File::open(&path).expect("open");
        assert_eq!(&*MappedBytes::file(&file).expect("whole"), &text[..]);
        for (offset, len) in [
            (0, 1),
            (1, 4095),
            (4095, 2),
            (4097, 5903),
            (9999, 1),
            (5000, 0),
        ] {
            let part = MappedBytes::range(&file, offset as u64, len).expect("range");
            assert_eq!(&*part, &text[offset..offset + len], "{offset} {len}");
        }
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, b"").expect("write");
        let file = File::open(&empty).expect("open");
        assert!(MappedBytes::file(&file).expect("empty").is_empty());
    }
}
