//! Child processes of the `kconnect` binary, and the Verifiable sink's output they write.

use std::path::Path;
use std::process::Child;

use kconnect_connectors::builtin::verifiable::{
    count_verifiable_output, verifiable_sink_files, VerifiableReport,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), sig).unwrap();
    }

    /// Waits for the process to exit, at most `timeout` (a process that does not is a failure).
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "process did not exit within {timeout:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// What the VerifiableSink tasks wrote to `<base>.<task>` so far (nothing yet: empty).
pub fn report(base: &Path) -> VerifiableReport {
    count_verifiable_output(&verifiable_sink_files(base).unwrap_or_default()).unwrap_or_default()
}

/// A `kconnect` child process whose stderr (its log) is collected line by line as it comes,
/// so a test can wait for a line instead of sleeping.
pub struct LoggedProc {
    pub proc: Proc,
    log: std::sync::Arc<(std::sync::Mutex<Log>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    /// stderr reached its end: the process exited (or closed it).
    closed: bool,
}

impl LoggedProc {
    /// Spawns `cmd` with stdout discarded and stderr collected.
    pub fn spawn(mut cmd: std::process::Command) -> LoggedProc {
        use std::io::{BufRead, BufReader};
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new((std::sync::Mutex::new(Log::default()), Default::default()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let (lock, changed): &(std::sync::Mutex<Log>, std::sync::Condvar) = &sink;
            // Split on '\n' only, keeping every other byte (escape sequences included) as is.
            for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
                lock.lock()
                    .unwrap()
                    .lines
                    .push(String::from_utf8_lossy(&line).into_owned());
                changed.notify_all();
            }
            lock.lock().unwrap().closed = true;
            changed.notify_all();
        });
        LoggedProc {
            proc: Proc(child),
            log,
        }
    }

    /// Every line logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.0.lock().unwrap().lines.clone()
    }

    /// Waits for a line for which `pred` holds and returns it; fails the test (showing the log)
    /// if none comes within `timeout` or the process exits first.
    pub fn wait_line(&self, timeout: std::time::Duration, pred: impl Fn(&str) -> bool) -> String {
        let (lock, changed) = &*self.log;
        let (log, _) = changed
            .wait_timeout_while(lock.lock().unwrap(), timeout, |l| {
                !l.closed && !l.lines.iter().any(|s| pred(s))
            })
            .unwrap();
        match log.lines.iter().find(|s| pred(s)) {
            Some(line) => line.clone(),
            None => panic!(
                "no such log line within {timeout:?} (exited: {}); log:\n{}",
                log.closed,
                log.lines.join("\n")
            ),
        }
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the process to close its log and exit.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        self.proc.signal(Signal::SIGTERM);
        let (lock, changed) = &*self.log;
        let (log, _) = changed
            .wait_timeout_while(lock.lock().unwrap(), timeout, |l| !l.closed)
            .unwrap();
        assert!(
            log.closed,
            "still running {timeout:?} after SIGTERM; log:\n{}",
            log.lines.join("\n")
        );
        drop(log);
        self.proc.0.wait().unwrap()
    }
}
