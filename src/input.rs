//! Reading a user's file: regular files only, never more than a stated
//! size, and text that must be UTF-8.
//!
//! Every file faultlab reads on a user's word (a scenario, a history) comes
//! through [`read_text`], so a FIFO cannot block it, `/dev/zero` cannot fill
//! memory, and a binary file is refused with the line and byte offset where
//! it stops being text. What it does not do: follow a file that grows while
//! it is read beyond the cap (the cap still holds), or read standard input.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest scenario file read: 4 MiB (the largest shipped one is 2 KiB).
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// The largest history file read: 1 GiB (a million operations in JSON lines
/// take about 200 MB).
pub const MAX_HISTORY_BYTES: u64 = 1 << 30;

/// Why a user's file could not be read as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// 1-based line, when the fault is inside the text.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for InputError {}

/// Reads `path` as UTF-8 text of at most `max_bytes` bytes; `what` names the
/// kind of file in messages ("scenario file", "history").
///
/// Refuses, without opening it, anything that is not a regular file (a
/// directory, a FIFO, a device such as `/dev/zero`).
pub fn read_text(path: &Path, what: &str, max_bytes: u64) -> Result<String, InputError> {
    let (file, len) = open_regular(path, what, max_bytes)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| plain(format!("cannot read the {what}: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(what, bytes.len() as u64, max_bytes));
    }
    text_of(bytes, what)
}

/// Opens `path` for reading line by line, with the checks of [`read_text`]
/// (a regular file of at most `max_bytes`). The reader ends after
/// `max_bytes + 1` bytes, so a file that grows while it is read still gives
/// a caller that counts what it reads a way to refuse it. UTF-8 is the
/// caller's to check, line by line.
pub fn open_text(
    path: &Path,
    what: &str,
    max_bytes: u64,
) -> Result<std::io::BufReader<std::io::Take<std::fs::File>>, InputError> {
    let (file, _) = open_regular(path, what, max_bytes)?;
    Ok(std::io::BufReader::new(file.take(max_bytes + 1)))
}

/// The file at `path` and its length, if it is a regular file of at most
/// `max_bytes`; anything else is refused without opening it.
fn open_regular(
    path: &Path,
    what: &str,
    max_bytes: u64,
) -> Result<(std::fs::File, u64), InputError> {
    let metadata =
        std::fs::metadata(path).map_err(|e| plain(format!("cannot read the {what}: {e}")))?;
    if !metadata.is_file() {
        return Err(plain(format!(
            "cannot read the {what}: it is {}, not a regular file",
            kind_of(&metadata)
        )));
    }
    if metadata.len() > max_bytes {
        return Err(too_large(what, metadata.len(), max_bytes));
    }
    let file =
        std::fs::File::open(path).map_err(|e| plain(format!("cannot read the {what}: {e}")))?;
    Ok((file, metadata.len()))
}

fn plain(message: String) -> InputError {
    InputError {
        line: None,
        message,
    }
}

/// `bytes` as a string, or an error naming the line and byte offset of the
/// first byte that is not UTF-8.
pub fn text_of(bytes: Vec<u8>, what: &str) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        InputError {
            line: Some(line),
            message: format!(
                "the {what} is not UTF-8 text: invalid byte 0x{:02x} at byte offset {offset}",
                bytes[offset]
            ),
        }
    })
}

fn too_large(what: &str, len: u64, max_bytes: u64) -> InputError {
    InputError {
        line: None,
        message: format!(
            "the {what} is {len} bytes or more; at most {max_bytes} bytes are read (a larger {what} is refused)"
        ),
    }
}

fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    if metadata.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = metadata.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a plain file"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("faultlab-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_a_small_text_file() {
        let path = temp("ok.txt", b"a = 1\n");
        assert_eq!(read_text(&path, "scenario file", 100).unwrap(), "a = 1\n");
    }

    #[test]
    fn refuses_a_file_over_the_cap() {
        let path = temp("big.txt", &[b'x'; 101]);
        let e = read_text(&path, "scenario file", 100).unwrap_err();
        assert!(e.message.contains("at most 100 bytes"), "{e}");
    }

    #[test]
    fn names_the_line_and_offset_of_invalid_utf8() {
        let path = temp("bin.txt", b"one\ntwo\n\xff three");
        let e = read_text(&path, "history", 100).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("byte offset 8"), "{e}");
    }

    #[test]
    fn refuses_directories_and_devices() {
        let dir = std::env::temp_dir();
        let e = read_text(&dir, "scenario file", 100).unwrap_err();
        assert!(e.message.contains("a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = read_text(Path::new("/dev/zero"), "scenario file", 100).unwrap_err();
            assert!(e.message.contains("a device"), "{e}");
        }
    }
}
