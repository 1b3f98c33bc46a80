//! Files read in place through the page cache (memory-mapped) instead of copied into memory.
//!
//! The one place of the project that uses `unsafe`: a mapping is only sound while nothing
//! changes the file. The files mapped are the roster and data exports a person hands to the
//! `compare` command, which only reads them; nothing outside this crate can reach a mapping,
//! and nothing in it writes a file it maps. Reading them the ordinary way cost a copy of every
//! byte and as much fresh memory again (a tenth of the comparison's time on a 550 MB file).
//! What is given up: if another process cuts a file short while it is read, or the medium
//! fails under it (a removed USB stick, a lost network share), the process stops with a bus
//! error instead of the message "无法读取"; it has written nothing by then. Pipes and other
//! files that are not regular ones are read the ordinary way.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::ops::Deref;

/// A file's bytes, or part of them: where the page cache holds them when the file is a
/// regular one.
pub(crate) struct FileBytes(Inner);

enum Inner {
    Map(memmap2::Mmap),
    /// An empty range, which cannot be mapped.
    Empty,
    /// A file that is not a regular one (a pipe), read into memory.
    Read(Vec<u8>),
}

/// Whether a file can be mapped: a regular file, whose length is known.
pub(crate) fn is_regular(file: &File) -> std::io::Result<bool> {
    Ok(file.metadata()?.is_file())
}

impl FileBytes {
    /// `len` bytes of the regular file `file` from byte `offset` (any offset: the mapping
    /// starts at the page before it). The caller has checked that the file is at least
    /// `offset + len` long.
    pub(crate) fn range(file: &File, offset: u64, len: usize) -> std::io::Result<FileBytes> {
        if len == 0 {
            return Ok(FileBytes(Inner::Empty));
        }
        // SAFETY: a read-only mapping of a file this crate only reads, dropped when the
        // reading is done (see the module note for changes made from outside meanwhile).
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .populate()
                .map(file)?
        };
        // Read front to back, once.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(FileBytes(Inner::Map(map)))
    }

    /// A whole file: mapped when it is a regular one, read otherwise.
    pub(crate) fn whole(mut file: File) -> std::io::Result<FileBytes> {
        if !is_regular(&file)? {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            return Ok(FileBytes(Inner::Read(bytes)));
        }
        let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        FileBytes::range(&file, 0, len)
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Inner::Map(m) => m,
            Inner::Empty => &[],
            Inner::Read(v) => v,
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
        for (offset, len) in [
            (0, 1),
            (1, 4095),
            (4095, 2),
            (4097, 5903),
            (9999, 1),
            (5000, 0),
        ] {
            let part = FileBytes::range(&file, offset as u64, len).expect("range");
            assert_eq!(&*part, &text[offset..offset + len], "{offset} {len}");
        }
        assert_eq!(&*FileBytes::whole(file).expect("whole"), &text[..]);
        let empty = dir.path().join("empty.csv");
        std::fs::write(&empty, b"").expect("write");
        let file = File::open(&empty).expect("open");
        assert!(FileBytes::whole(file).expect("empty").is_empty());
    }

    /// A pipe has no length to map: it is read to its end.
    #[cfg(unix)]
    #[test]
    fn pipes_are_read_to_their_end() {
        let mut child = std::process::Command::new("printf")
            .arg("身份证号,姓名\\n411321198001010011,张三\\n")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("printf");
        let out = child.stdout.take().expect("stdout");
        let file = File::from(std::os::fd::OwnedFd::from(out));
        assert!(!is_regular(&file).expect("metadata"));
        let bytes = FileBytes::whole(file).expect("read");
        assert_eq!(
            std::str::from_utf8(&bytes),
            Ok("身份证号,姓名\n411321198001010011,张三\n")
        );
        child.wait().expect("wait");
    }
}
