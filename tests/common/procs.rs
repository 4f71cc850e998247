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
}

/// What the VerifiableSink tasks wrote to `<base>.<task>` so far (nothing yet: empty).
pub fn report(base: &Path) -> VerifiableReport {
    count_verifiable_output(&verifiable_sink_files(base).unwrap_or_default()).unwrap_or_default()
}
