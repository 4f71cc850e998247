//! Apache Kafka Connect (the Java reference, pinned in tests/kafka/pom.xml) as a peer in tests:
//! started through tests/kafka/start-connect.sh against the test's broker, SIGKILLed when
//! dropped so that a failing test leaves no JVM behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Whether `java` runs here. Without it a test that needs Java Connect returns at once and says
/// SKIPPED (a broker from elsewhere needs no Java here); under `CI=true` that is a failure.
pub fn java_available() -> bool {
    let ok = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "java is missing but CI=true: the interop tests must run"
        );
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED (no java on PATH for Java Connect): install Java 17+ [{test}]"
        );
    }
    ok
}

/// One Java Connect worker process.
pub struct JavaConnect {
    pub pid: i32,
    /// Its REST URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub rest: String,
    /// target/kafka/connect/<run>/: its config copy and `logs/connect.log`.
    pub run_dir: PathBuf,
    /// How long start-connect.sh took until the REST API was up.
    pub startup: Duration,
}

impl JavaConnect {
    /// `mode` is `standalone` or `distributed`; `kafka` replaces the worker's
    /// `bootstrap.servers`. Panics with the script's output when Java Connect does not start.
    pub fn start(kafka: &str, mode: &str, worker: &Path, connectors: &[&Path]) -> JavaConnect {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/start-connect.sh");
        let started = Instant::now();
        let out = Command::new(script)
            .arg(mode)
            .arg(worker)
            .args(connectors)
            .env("KCONNECT_TEST_KAFKA", kafka)
            // Several JVMs share a small machine with the broker.
            .env("KAFKA_HEAP_OPTS", "-Xms128m -Xmx512m")
            .output()
            .expect("running tests/kafka/start-connect.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "Java Connect did not start: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let var = |name: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("start-connect.sh printed no {name}: {stdout}"))
                .to_string()
        };
        JavaConnect {
            pid: var("CONNECT_PID").parse().unwrap(),
            rest: var("CONNECT_REST"),
            run_dir: PathBuf::from(var("CONNECT_RUN_DIR")),
            startup: started.elapsed(),
        }
    }

    pub fn log(&self) -> PathBuf {
        self.run_dir.join("logs/connect.log")
    }

    /// True while the process runs. It is not our child (the script starts it with setsid),
    /// so a zombie waiting for its new parent counts as gone.
    pub fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|stat| {
            // The state follows the parenthesised command name.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    }

    /// True when `pid` still is this run's JVM (its command line names the run directory), so
    /// a recycled pid is never signalled.
    fn ours(&self) -> bool {
        std::fs::read(format!("/proc/{}/cmdline", self.pid)).is_ok_and(|c| {
            String::from_utf8_lossy(&c).contains(self.run_dir.to_str().unwrap_or("\u{0}"))
        })
    }

    pub fn signal(&self, sig: Signal) {
        if self.ours() {
            let _ = kill(Pid::from_raw(self.pid), sig);
        }
    }

    /// SIGTERM (Connect stops its tasks, commits their offsets and leaves the group), then
    /// waits for the exit; panics if it takes longer than `timeout`.
    pub fn stop(&self, timeout: Duration) {
        self.signal(Signal::SIGTERM);
        self.wait_gone(timeout);
    }

    /// SIGKILL, and waits until the process is gone.
    pub fn kill(&self) {
        self.signal(Signal::SIGKILL);
        self.wait_gone(Duration::from_secs(10));
    }

    fn wait_gone(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.alive() {
            assert!(
                Instant::now() < deadline,
                "Java Connect (pid {}) still runs after {timeout:?}; log {}",
                self.pid,
                self.log().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether Connect's log holds `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        std::fs::read_to_string(self.log()).is_ok_and(|s| s.contains(needle))
    }
}

impl Drop for JavaConnect {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(Signal::SIGKILL);
        }
        if std::thread::panicking() {
            eprintln!("Java Connect's log: {}", self.log().display());
        }
    }
}
