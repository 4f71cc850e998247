//! A file the sinks append whole lines to.
//!
//! Lines are gathered in memory and handed to the OS in writes that always end on a line
//! boundary, so that several tasks appending to the same file (opened with `O_APPEND`) never
//! interleave inside a line.
//!
//! The file never keeps a torn line, because the runtime redelivers every record after the
//! last committed offset and a partial record is never valid output:
//!
//! - A write (or the flush behind it) that fails part-way, as on a full disk, is cut back at
//!   once: to the length the file had after this writer's last successful [`AppendFile::flush`]
//!   (what `pre_commit` confirmed) when no other writer appended since, so the redelivered
//!   records appear exactly once; otherwise only to where the failed write began, since the
//!   lines other tasks appended after our last flush may already be committed. After a failure
//!   nothing more is written through this `AppendFile`, and `flush` keeps failing, so the
//!   runtime never commits the offsets of the lines that were cut (the task fails and restarts).
//! - Opening the file cuts away a partial last line (no trailing `\n`), left by a crash during
//!   a write or by a cut that itself failed.
//!
//! Every write, cut and open-time repair happens under an exclusive `flock` of the file, shared
//! by all writers (tasks of this worker and of other worker processes on the host): the length
//! a writer sees before its write is where its write lands, and a cut never races another
//! writer's append.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};

use crate::error::ConnectError;

/// Gathered bytes are written once they pass this size, at the next line boundary.
const WRITE_THRESHOLD: usize = 64 * 1024;
/// How much of the file's end one read looks at when searching for the last complete line.
const TAIL_CHUNK: u64 = 64 * 1024;

/// What appends go through, made from the opened file. Production writes to the file itself;
/// tests wrap it in a writer that fails part-way, as a full disk does.
pub(crate) type WriterFactory = Arc<dyn Fn(File) -> Box<dyn Write + Send> + Send + Sync>;

/// Why appending failed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppendError {
    #[error("Couldn't find or create file '{}' for {who}: {source}", .path.display())]
    Open {
        path: PathBuf,
        who: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot {what} '{}': {source}", .path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "I/O error writing '{}': {source}; the file was cut back to its last complete line ({len} \
         bytes), and the records since the last commit are written again after the task restarts",
        .path.display()
    )]
    Write {
        path: PathBuf,
        len: u64,
        #[source]
        source: io::Error,
    },
    #[error(
        "I/O error writing '{}': {source}; cutting the partial line away failed too ({cut}), so \
         the restarted task cuts it when it opens the file",
        .path.display()
    )]
    WriteAndCut {
        path: PathBuf,
        #[source]
        source: io::Error,
        cut: io::Error,
    },
    #[error(
        "nothing more is written to '{}' after a failed write: the records since the last commit \
         are delivered again once the task restarts",
        .path.display()
    )]
    Failed { path: PathBuf },
    #[error("the writer of '{}' panicked", .path.display())]
    Lost { path: PathBuf },
}

impl From<AppendError> for ConnectError {
    fn from(e: AppendError) -> Self {
        ConnectError::other(e.to_string())
    }
}

pub(crate) struct AppendFile {
    path: PathBuf,
    /// `None` only while a blocking write holds it, or after such a write panicked.
    inner: Option<Inner>,
    pending: Vec<u8>,
    /// A write failed: lines the runtime counts as written were cut, so nothing may be flushed
    /// (and committed) through this writer any more.
    failed: bool,
}

/// The blocking side: the file, and where this writer's lines are in it.
struct Inner {
    path: PathBuf,
    /// Used to lock, measure and cut the file.
    file: File,
    /// Appends go through this (the file itself outside tests).
    writer: Box<dyn Write + Send>,
    /// The file's length after this writer's last successful flush (or at open): everything
    /// before it is whole lines.
    flushed: u64,
    /// Where this writer's last write ended.
    end: u64,
    /// Every byte from `flushed` to `end` is this writer's: no other writer appended in between.
    alone: bool,
}

/// Holds the file's exclusive lock until dropped. Locks through a duplicate descriptor: `flock`
/// belongs to the open file description, which the duplicate shares.
fn lock(file: &File) -> io::Result<Flock<File>> {
    Flock::lock(file.try_clone()?, FlockArg::LockExclusive).map_err(|(_, errno)| errno.into())
}

/// The length of the file's complete lines: up to and including its last `\n`.
fn whole_lines_len(file: &File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl Inner {
    fn io(&self, what: &'static str) -> impl FnOnce(io::Error) -> AppendError + '_ {
        move |source| AppendError::Io {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Appends `buf` (whole lines) and pushes it to the OS; cuts the file back if that fails.
    fn append(&mut self, buf: &[u8]) -> Result<(), AppendError> {
        let _lock = lock(&self.file).map_err(self.io("lock"))?;
        let before = self.file.metadata().map_err(self.io("measure"))?.len();
        if before != self.end {
            // Another writer appended (or cut its own failed write) since our last write.
            self.alone = false;
        }
        let written = self
            .writer
            .write_all(buf)
            .and_then(|()| self.writer.flush());
        let Err(source) = written else {
            // Under the lock, an O_APPEND write lands exactly at `before`.
            self.end = before + buf.len() as u64;
            return Ok(());
        };
        // Back to the last flush if everything after it is ours: the records after the last
        // commit are redelivered, and then written exactly once. If other writers appended in
        // between, their lines may be committed already: cut only our own failed write.
        let len = if self.alone { self.flushed } else { before };
        match self.file.set_len(len) {
            Ok(()) => {
                self.end = len;
                Err(AppendError::Write {
                    path: self.path.clone(),
                    len,
                    source,
                })
            }
            Err(cut) => Err(AppendError::WriteAndCut {
                path: self.path.clone(),
                source,
                cut,
            }),
        }
    }
}

impl AppendFile {
    /// Opens `path` for appending, creating it if needed, and cuts away a partial last line.
    /// `who` names the task in errors.
    pub(crate) async fn open(path: &Path, who: &str) -> Result<AppendFile, AppendError> {
        Self::open_with(path, who, None).await
    }

    /// [`AppendFile::open`], with appends going through the writer `wrap` makes of the file.
    pub(crate) async fn open_with(
        path: &Path,
        who: &str,
        wrap: Option<WriterFactory>,
    ) -> Result<AppendFile, AppendError> {
        let path = path.to_path_buf();
        let who = who.to_string();
        let lost = AppendError::Lost { path: path.clone() };
        let inner = tokio::task::spawn_blocking(move || Self::open_blocking(path, who, wrap))
            .await
            .map_err(|_| lost)??;
        Ok(AppendFile {
            path: inner.path.clone(),
            inner: Some(inner),
            pending: Vec::with_capacity(WRITE_THRESHOLD + 1024),
            failed: false,
        })
    }

    fn open_blocking(
        path: PathBuf,
        who: String,
        wrap: Option<WriterFactory>,
    ) -> Result<Inner, AppendError> {
        // Read access: the open-time repair reads the file's tail.
        let file = match OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(source) => return Err(AppendError::Open { path, who, source }),
        };
        let io = |what: &'static str| {
            let path = path.clone();
            move |source| AppendError::Io { path, what, source }
        };
        let len = {
            let _lock = lock(&file).map_err(io("lock"))?;
            let len = file.metadata().map_err(io("measure"))?.len();
            let whole = whole_lines_len(&file, len).map_err(io("read the end of"))?;
            if whole < len {
                tracing::warn!(
                    "'{}' ends in a partial line ({} bytes without a line end, left by a failed \
                     or interrupted write): cutting it away before appending",
                    path.display(),
                    len - whole
                );
                file.set_len(whole)
                    .map_err(io("cut the partial last line of"))?;
            }
            whole
        };
        let writer: Box<dyn Write + Send> = match wrap {
            None => Box::new(file.try_clone().map_err(io("open"))?),
            Some(wrap) => wrap(file.try_clone().map_err(io("open"))?),
        };
        Ok(Inner {
            path,
            file,
            writer,
            flushed: len,
            end: len,
            alone: true,
        })
    }

    /// The buffer to append one line's bytes to; finish the line with [`AppendFile::end_line`].
    pub(crate) fn line_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Ends the current line, writing the gathered lines out once there are enough of them.
    pub(crate) async fn end_line(&mut self) -> Result<(), AppendError> {
        if self.finish_line() {
            self.write_gathered().await?;
        }
        Ok(())
    }

    /// Ends the current line and answers whether enough lines are gathered to write them out
    /// ([`AppendFile::write_gathered`]): a caller ending many lines in a row awaits only then,
    /// not once per line.
    pub(crate) fn finish_line(&mut self) -> bool {
        self.pending.push(b'\n');
        self.pending.len() >= WRITE_THRESHOLD
    }

    /// Writes the gathered lines out (no fsync).
    pub(crate) async fn write_gathered(&mut self) -> Result<(), AppendError> {
        self.write_pending().await
    }

    /// Hands every complete line to the OS (no fsync). Once it returns, those lines stay in the
    /// file whatever later writes do.
    pub(crate) async fn flush(&mut self) -> Result<(), AppendError> {
        self.write_pending().await?;
        let inner = self.inner()?;
        inner.flushed = inner.end;
        inner.alone = true;
        Ok(())
    }

    fn inner(&mut self) -> Result<&mut Inner, AppendError> {
        if self.failed {
            return Err(AppendError::Failed {
                path: self.path.clone(),
            });
        }
        self.inner.as_mut().ok_or_else(|| AppendError::Lost {
            path: self.path.clone(),
        })
    }

    async fn write_pending(&mut self) -> Result<(), AppendError> {
        self.inner()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut inner = self.inner.take().expect("present: checked by inner()");
        let buf = std::mem::take(&mut self.pending);
        let done = tokio::task::spawn_blocking(move || {
            let result = inner.append(&buf);
            (inner, buf, result)
        })
        .await;
        let Ok((inner, mut buf, result)) = done else {
            self.failed = true;
            return Err(AppendError::Lost {
                path: self.path.clone(),
            });
        };
        self.inner = Some(inner);
        buf.clear();
        self.pending = buf;
        if result.is_err() {
            self.failed = true;
        }
        result
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use std::fs::File;
    use std::io::{self, Write};
    use std::sync::Arc;

    use super::WriterFactory;

    /// A writer that takes `budget` bytes, then fails like a full disk. The bytes it takes reach
    /// the file, so a write it cuts short leaves a torn line behind.
    pub(crate) struct FullDisk {
        file: File,
        budget: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device (injected)",
                ));
            }
            let n = self.file.write(&buf[..buf.len().min(self.budget)])?;
            self.budget -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    /// Appends go to a disk that fills up after `budget` bytes.
    pub(crate) fn full_disk_after(budget: usize) -> WriterFactory {
        Arc::new(move |file| Box::new(FullDisk { file, budget }))
    }

    /// Appends are buffered (in an 8 KiB `BufWriter`) in front of a disk that fills up after
    /// `budget` bytes: the failure then surfaces in `flush`.
    pub(crate) fn buffered_full_disk_after(budget: usize) -> WriterFactory {
        Arc::new(move |file| Box::new(io::BufWriter::new(FullDisk { file, budget })))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{buffered_full_disk_after, full_disk_after};
    use super::*;

    async fn put_lines(out: &mut AppendFile, lines: std::ops::Range<usize>, tag: &str) {
        for i in lines {
            out.line_buffer()
                .extend_from_slice(format!("{tag}-{i:07}").as_bytes());
            out.end_line().await.unwrap();
        }
    }

    fn lines(tag: &str, range: std::ops::Range<usize>) -> String {
        range.map(|i| format!("{tag}-{i:07}\n")).collect()
    }

    #[tokio::test]
    async fn a_failed_write_is_cut_back_to_the_last_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        // Room for the 100 flushed lines (10 bytes each) and part of the next write.
        let mut out = AppendFile::open_with(&path, "test", Some(full_disk_after(1000 + 25_005)))
            .await
            .unwrap();
        put_lines(&mut out, 0..100, "a").await;
        out.flush().await.unwrap();
        // The lines written since the flush, whole ones included, go too: they are redelivered.
        put_lines(&mut out, 100..5_000, "a").await;
        let err = out.flush().await.unwrap_err();
        assert!(matches!(err, AppendError::Write { len: 1000, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lines("a", 0..100));
        // Nothing is written, nor reported flushed, after a failure.
        out.line_buffer().extend_from_slice(b"late");
        let _ = out.end_line().await;
        assert!(matches!(out.flush().await, Err(AppendError::Failed { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lines("a", 0..100));
    }

    #[tokio::test]
    async fn a_failed_flush_of_a_buffered_writer_is_cut_back_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let wrap = buffered_full_disk_after(1000 + 5);
        let mut out = AppendFile::open_with(&path, "test", Some(wrap))
            .await
            .unwrap();
        put_lines(&mut out, 0..100, "a").await;
        out.flush().await.unwrap();
        // Fits the BufWriter's buffer: only its flush meets the full disk.
        put_lines(&mut out, 100..200, "a").await;
        assert!(out.flush().await.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lines("a", 0..100));
    }

    #[tokio::test]
    async fn a_failed_write_never_cuts_the_lines_of_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut a = AppendFile::open_with(&path, "a", Some(full_disk_after(1000 + 5)))
            .await
            .unwrap();
        let mut b = AppendFile::open(&path, "b").await.unwrap();
        put_lines(&mut a, 0..100, "a").await;
        a.flush().await.unwrap();
        put_lines(&mut b, 0..10, "b").await;
        b.flush().await.unwrap();
        // `a` fails after `b` appended: `b`'s lines (perhaps committed already) stay.
        put_lines(&mut a, 100..110, "a").await;
        let err = a.flush().await.unwrap_err();
        assert!(matches!(err, AppendError::Write { len: 1100, .. }), "{err}");
        let expected = lines("a", 0..100) + &lines("b", 0..10);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        // `b` goes on appending whole lines after it.
        put_lines(&mut b, 10..12, "b").await;
        b.flush().await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            expected + &lines("b", 10..12)
        );
    }

    #[tokio::test]
    async fn opening_cuts_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        let mut out = AppendFile::open(&path, "test").await.unwrap();
        out.line_buffer().extend_from_slice(b"three");
        out.end_line().await.unwrap();
        out.flush().await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");

        // A file of one partial line (longer than one tail read) is emptied.
        std::fs::write(&path, "x".repeat(3 * TAIL_CHUNK as usize)).unwrap();
        drop(AppendFile::open(&path, "test").await.unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn whole_lines_len_finds_the_last_line_end_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 2 * TAIL_CHUNK as usize + 7));
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(whole_lines_len(&f, data.len() as u64).unwrap(), 2);
        std::fs::write(&path, b"a\nb\n").unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(whole_lines_len(&f, 4).unwrap(), 4);
        assert_eq!(whole_lines_len(&f, 0).unwrap(), 0);
    }
}
