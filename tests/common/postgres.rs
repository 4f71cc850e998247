//! The real PostgreSQL server the database connector tests run against: its URL comes from
//! `KCONNECT_TEST_POSTGRES` (`postgres://user:password@host:port/db`), set by scripts/test.sh,
//! which starts a throwaway cluster with tests/postgres/start-postgres.sh.

use super::kafka::{in_ci, loud};

/// The environment variable holding the server's URL.
pub const POSTGRES_ENV: &str = "KCONNECT_TEST_POSTGRES";

/// The PostgreSQL server to test against. Without it the test should return at once: this says
/// SKIPPED, loudly. Under `CI=true` a missing server is a failure, not a skip.
pub fn real_postgres() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            assert!(
                !in_ci(),
                "{POSTGRES_ENV} is not set but CI=true: the PostgreSQL tests must run in CI \
                 (scripts/test.sh starts the server and sets it)"
            );
            loud("SKIPPED (no PostgreSQL): set KCONNECT_TEST_POSTGRES or run scripts/test.sh");
            None
        }
    }
}
