//! Output files that are whole or absent: written to `FILE.tmp` beside the
//! target and renamed over it only when everything was written.
//!
//! A run killed half-way, or a disk that fills up, leaves the old `FILE` as
//! it was (or no file) and at most a stale `FILE.tmp`, never a cut-off file
//! that looks whole. The first write error is kept, so a caller that hands
//! the writer to code that merely stops writing on an error still learns of
//! it at [`AtomicFile::commit`].
//!
//! A target that exists and is not a regular file (`/dev/null`, `/dev/full`,
//! a FIFO) is written in place: there is nothing to replace atomically, and
//! a `.tmp` file must not appear in `/dev`.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A file being written; see the module docs.
pub struct AtomicFile {
    target: PathBuf,
    /// The temporary file renamed to `target` on commit (`None`: written in place).
    temporary: Option<PathBuf>,
    writer: BufWriter<File>,
    /// The first write error, kept for [`AtomicFile::commit`].
    error: Option<io::Error>,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `target` (through `target.tmp` when it is, or would
    /// be, a regular file).
    pub fn create(target: impl AsRef<Path>) -> io::Result<AtomicFile> {
        let target = target.as_ref().to_path_buf();
        let in_place = std::fs::metadata(&target).is_ok_and(|m| !m.is_file());
        let temporary = (!in_place).then(|| temporary_path(&target));
        let file = File::create(temporary.as_ref().unwrap_or(&target))?;
        Ok(AtomicFile {
            target,
            temporary,
            writer: BufWriter::new(file),
            error: None,
            committed: false,
        })
    }

    /// Flushes, syncs and renames over the target. Returns the first error
    /// met while writing, if any; then the target is left as it was.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()?;
        if let Some(temporary) = &self.temporary {
            self.writer.get_ref().sync_all()?;
            std::fs::rename(temporary, &self.target)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        self.writer.write(buf).inspect_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush().inspect_err(|e| self.keep(e))
    }
}

impl AtomicFile {
    fn keep(&mut self, e: &io::Error) {
        if self.error.is_none() {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let (false, Some(temporary)) = (self.committed, &self.temporary) {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

fn temporary_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    target.with_file_name(name)
}

/// A cloneable handle on an [`AtomicFile`], for handing the writer to a run
/// (as `Box<dyn Write>`) and committing it afterwards.
#[derive(Clone)]
pub struct SharedFile(Rc<RefCell<Option<AtomicFile>>>);

impl SharedFile {
    /// Starts writing `target`; see [`AtomicFile::create`].
    pub fn create(target: impl AsRef<Path>) -> io::Result<SharedFile> {
        Ok(SharedFile(Rc::new(RefCell::new(Some(AtomicFile::create(
            target,
        )?)))))
    }

    /// Commits the file (see [`AtomicFile::commit`]); later writes fail.
    pub fn commit(&self) -> io::Result<()> {
        match self.0.borrow_mut().take() {
            Some(file) => file.commit(),
            None => Err(io::Error::other("the file was already committed")),
        }
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.borrow_mut().as_mut() {
            Some(file) => file.write(buf),
            None => Err(io::Error::other("the file was already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.borrow_mut().as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("faultlab-atomic-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_target_appears_only_on_commit() {
        let target = dir("commit").join("out.jsonl");
        let mut file = AtomicFile::create(&target).unwrap();
        writeln!(file, "one").unwrap();
        file.flush().unwrap();
        assert!(!target.exists(), "the target must not exist before commit");
        assert!(target.with_file_name("out.jsonl.tmp").exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "one\n");
        assert!(!target.with_file_name("out.jsonl.tmp").exists());
    }

    #[test]
    fn an_abandoned_file_leaves_the_old_target() {
        let target = dir("abandon").join("out.jsonl");
        std::fs::write(&target, "old\n").unwrap();
        {
            let mut file = AtomicFile::create(&target).unwrap();
            writeln!(file, "new, half-written").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        assert!(!target.with_file_name("out.jsonl.tmp").exists());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_error_is_reported_at_commit() {
        let mut file = AtomicFile::create("/dev/full").unwrap();
        // Enough to pass the buffer, so that a write reaches the device.
        let _ = file.write_all(&[b'x'; 64 * 1024]);
        let _ = file.flush();
        assert!(file.commit().is_err(), "/dev/full must not commit");
    }

    #[test]
    fn a_shared_handle_commits_what_the_run_wrote() {
        let target = dir("shared").join("trace.jsonl");
        let handle = SharedFile::create(&target).unwrap();
        let mut writer: Box<dyn Write> = Box::new(handle.clone());
        writeln!(writer, "event").unwrap();
        drop(writer);
        handle.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "event\n");
    }
}
