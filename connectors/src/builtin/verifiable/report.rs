//! Reads the Verifiable sink's output back and counts, per source task, the seqnos received,
//! duplicated and missing.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// What the sinks received from one source task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSeqnos {
    /// The distinct seqnos received, ascending.
    seqnos: Vec<u64>,
    /// Lines received, duplicates included.
    pub received: u64,
    /// Lines beyond the first for the same seqno.
    pub duplicates: u64,
}

impl TaskSeqnos {
    fn from_unsorted(mut all: Vec<u64>) -> TaskSeqnos {
        let received = all.len() as u64;
        all.sort_unstable();
        all.dedup();
        TaskSeqnos {
            duplicates: received - all.len() as u64,
            received,
            seqnos: all,
        }
    }

    /// How many distinct seqnos arrived.
    pub fn distinct(&self) -> u64 {
        self.seqnos.len() as u64
    }

    /// The highest seqno received, if any.
    pub fn max_seqno(&self) -> Option<u64> {
        self.seqnos.last().copied()
    }

    /// Whether `seqno` was received.
    pub fn contains(&self, seqno: u64) -> bool {
        self.seqnos.binary_search(&seqno).is_ok()
    }

    /// Seqnos in `0..=max_seqno` that never arrived: gaps, whatever the expected total.
    pub fn missing_below_max(&self) -> u64 {
        self.max_seqno().map_or(0, |max| max + 1 - self.distinct())
    }

    /// Seqnos in `0..expected` that never arrived.
    pub fn lost(&self, expected: u64) -> u64 {
        let arrived = self.seqnos.partition_point(|&s| s < expected) as u64;
        expected - arrived
    }

    /// The first `limit` seqnos in `0..expected` that never arrived, for diagnostics.
    pub fn missing(&self, expected: u64, limit: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut next = 0u64;
        for &s in self.seqnos.iter().take_while(|&&s| s < expected) {
            while next < s && out.len() < limit {
                out.push(next);
                next += 1;
            }
            if out.len() >= limit {
                return out;
            }
            next = s + 1;
        }
        while next < expected && out.len() < limit {
            out.push(next);
            next += 1;
        }
        out
    }

    /// Seqnos that arrived at or beyond `expected` (a source that ran past its end).
    pub fn beyond(&self, expected: u64) -> u64 {
        self.distinct() - self.seqnos.partition_point(|&s| s < expected) as u64
    }
}

/// What the Verifiable sinks received, per source task id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiableReport {
    /// What each source task's records delivered, by source task id.
    pub tasks: BTreeMap<u32, TaskSeqnos>,
    /// Lines that are not `<task id> <seqno>`, including a last line with no newline (a write
    /// cut short). Zero for files written by sinks that were not killed mid-write.
    pub malformed_lines: u64,
}

impl VerifiableReport {
    /// What source task `id`'s records delivered, if any arrived.
    pub fn task(&self, id: u32) -> Option<&TaskSeqnos> {
        self.tasks.get(&id)
    }

    /// Per expected source task, the seqnos in `0..expected` that never arrived (all of them
    /// for a task the sinks never heard of).
    pub fn lost(&self, expected_per_task: &BTreeMap<u32, u64>) -> BTreeMap<u32, u64> {
        expected_per_task
            .iter()
            .map(|(&id, &expected)| {
                let lost = self.tasks.get(&id).map_or(expected, |t| t.lost(expected));
                (id, lost)
            })
            .collect()
    }

    /// How many seqnos are missing, given how many each task sent (tasks absent from the report
    /// count in full).
    pub fn total_lost(&self, expected_per_task: &BTreeMap<u32, u64>) -> u64 {
        self.lost(expected_per_task).values().sum()
    }

    /// Per source task seen, the gaps below its highest seqno.
    pub fn missing_below_max(&self) -> BTreeMap<u32, u64> {
        self.tasks
            .iter()
            .map(|(&id, t)| (id, t.missing_below_max()))
            .collect()
    }

    /// Per source task seen, the lines that repeated a seqno.
    pub fn duplicates(&self) -> BTreeMap<u32, u64> {
        self.tasks
            .iter()
            .map(|(&id, t)| (id, t.duplicates))
            .collect()
    }

    /// How many lines repeated a seqno, over all tasks.
    pub fn total_duplicates(&self) -> u64 {
        self.tasks.values().map(|t| t.duplicates).sum()
    }

    /// How many records arrived, duplicates included.
    pub fn total_received(&self) -> u64 {
        self.tasks.values().map(|t| t.received).sum()
    }
}

/// Reads the files Verifiable sink tasks wrote (`<verifiable.sink.file>.<n>`, see
/// [`verifiable_sink_files`]) and counts what each source task's records became. Fails if a
/// file cannot be read.
pub fn count_verifiable_output(paths: &[PathBuf]) -> io::Result<VerifiableReport> {
    let mut all: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut malformed_lines = 0;
    for path in paths {
        let data = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut lines = data.split(|&b| b == b'\n');
        // The piece after the last newline: empty for a file of whole lines.
        let tail = lines.next_back().unwrap_or_default();
        if !tail.is_empty() {
            malformed_lines += 1;
        }
        for line in lines {
            match parse_line(line) {
                Some((task, seqno)) => all.entry(task).or_default().push(seqno),
                None => malformed_lines += 1,
            }
        }
    }
    Ok(VerifiableReport {
        tasks: all
            .into_iter()
            .map(|(id, seqnos)| (id, TaskSeqnos::from_unsorted(seqnos)))
            .collect(),
        malformed_lines,
    })
}

fn parse_line(line: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let (task, seqno) = text.split_once(' ')?;
    Some((task.parse().ok()?, seqno.parse().ok()?))
}

/// The Verifiable sink files that exist for base path `base`: `<base>.<n>` for any number `n`,
/// in task order.
pub fn verifiable_sink_files(base: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = match base.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(stem) = base.file_name().and_then(|n| n.to_str()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", base.display()),
        ));
    };
    let prefix = format!("{stem}.");
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        found.push((id, dir.join(&name)));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(pairs: &[(u32, u64)]) -> BTreeMap<u32, u64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn counts_distinct_duplicates_gaps_and_losses_per_task() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("v.0");
        let b = dir.path().join("v.1");
        // Task 0: 0..=5 with 2 missing, 3 twice (once in each file). Task 1: 0, 1 and 9.
        std::fs::write(&a, "0 0\n0 1\n0 3\n1 0\n1 1\n").unwrap();
        std::fs::write(&b, "0 3\n0 4\n0 5\n0 0\n1 9\n").unwrap();
        let report = count_verifiable_output(&[a, b]).unwrap();

        let t0 = report.task(0).unwrap();
        assert_eq!(t0.received, 7);
        assert_eq!(t0.distinct(), 5);
        assert_eq!(t0.duplicates, 2);
        assert_eq!(t0.max_seqno(), Some(5));
        assert!(t0.contains(4) && !t0.contains(2));
        assert_eq!(t0.missing_below_max(), 1);
        assert_eq!(t0.missing(10, 100), vec![2, 6, 7, 8, 9]);
        assert_eq!(t0.missing(10, 2), vec![2, 6]);

        let t1 = report.task(1).unwrap();
        assert_eq!(
            (t1.received, t1.duplicates, t1.max_seqno()),
            (3, 0, Some(9))
        );
        assert_eq!(t1.missing_below_max(), 7);
        assert_eq!(t1.beyond(5), 1);

        assert_eq!(report.missing_below_max(), expected(&[(0, 1), (1, 7)]));
        assert_eq!(report.duplicates(), expected(&[(0, 2), (1, 0)]));
        assert_eq!(report.total_duplicates(), 2);
        assert_eq!(report.total_received(), 10);
        // Task 0 expected 6 (lost seqno 2); task 1 expected 5 (lost 2, 3, 4); task 2 sent 3
        // that never arrived.
        let want = expected(&[(0, 6), (1, 5), (2, 3)]);
        assert_eq!(report.lost(&want), expected(&[(0, 1), (1, 3), (2, 3)]));
        assert_eq!(report.total_lost(&want), 7);
        assert_eq!(report.malformed_lines, 0);
    }

    #[test]
    fn a_cut_short_last_line_and_garbage_are_malformed_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("v.0");
        std::fs::write(&a, "0 0\nhello\n0 x\n\n0 1\n0 2").unwrap();
        let report = count_verifiable_output(&[a]).unwrap();
        assert_eq!(report.malformed_lines, 4);
        let t0 = report.task(0).unwrap();
        assert_eq!((t0.received, t0.max_seqno()), (2, Some(1)));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = count_verifiable_output(&[dir.path().join("nope.0")]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("nope.0"));
    }

    #[test]
    fn finds_the_sink_files_of_a_base_path_in_task_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "out.10",
            "out.2",
            "out.0",
            "out",
            "out.x",
            "other.1",
            "out.1.bak",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let files = verifiable_sink_files(&dir.path().join("out")).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, vec!["out.0", "out.2", "out.10"]);
    }
}
