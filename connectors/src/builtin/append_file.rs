//! A file the sinks append whole lines to.
//!
//! Lines are gathered in memory and handed to the OS in writes that always end on a line
//! boundary, so that several tasks appending to the same file (opened with `O_APPEND`) never
//! interleave inside a line, and a task killed mid-way never leaves half a line behind a
//! complete write.

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

use crate::error::{ConnectError, ConnectResult};

/// Gathered bytes are written once they pass this size, at the next line boundary.
const WRITE_THRESHOLD: usize = 64 * 1024;

pub(crate) struct AppendFile {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
}

impl AppendFile {
    /// Opens `path` for appending, creating it if needed. `who` names the task in errors.
    pub(crate) async fn open(path: &Path, who: &str) -> ConnectResult<AppendFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|e| {
                ConnectError::other(format!(
                    "Couldn't find or create file '{}' for {who}: {e}",
                    path.display()
                ))
            })?;
        Ok(AppendFile {
            path: path.to_path_buf(),
            file,
            pending: Vec::with_capacity(WRITE_THRESHOLD + 1024),
        })
    }

    /// The buffer to append one line's bytes to; finish the line with [`AppendFile::end_line`].
    pub(crate) fn line_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Ends the current line, writing the gathered lines out once there are enough of them.
    pub(crate) async fn end_line(&mut self) -> ConnectResult<()> {
        self.pending.push(b'\n');
        if self.pending.len() >= WRITE_THRESHOLD {
            self.write_pending().await?;
        }
        Ok(())
    }

    /// Hands every complete line to the OS (no fsync).
    pub(crate) async fn flush(&mut self) -> ConnectResult<()> {
        self.write_pending().await?;
        self.file.flush().await.map_err(|e| self.io_error(e))
    }

    async fn write_pending(&mut self) -> ConnectResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending).await;
        self.pending.clear();
        result.map_err(|e| self.io_error(e))
    }

    fn io_error(&self, e: std::io::Error) -> ConnectError {
        ConnectError::other(format!("I/O error writing '{}': {e}", self.path.display()))
    }
}
