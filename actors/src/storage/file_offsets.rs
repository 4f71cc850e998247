//! Source offsets of a standalone worker, kept in one human-readable file (the role of Connect's
//! `FileOffsetBackingStore`, `offset.storage.file.filename`).
//!
//! # File format
//!
//! Pretty-printed JSON with a format version and one entry per (connector, source partition):
//!
//! ```json
//! {
//!   "version": 1,
//!   "offsets": [
//!     {
//!       "connector": "local-file-source",
//!       "partition": {
//!         "filename": "/tmp/test.txt"
//!       },
//!       "offset": {
//!         "position": 1234
//!       }
//!     }
//!   ]
//! }
//! ```
//!
//! - `partition` and `offset` are the maps the source task put in its records
//!   (`source_partition`, `source_offset`).
//! - The order is stable, so the file diffs well: entries are sorted by connector name, then by
//!   the partition's canonical JSON (object keys sorted, no whitespace), and object keys inside
//!   `partition` and `offset` are written sorted.
//! - A partition is matched by that canonical JSON, so the order of its keys does not matter;
//!   values must match exactly (`1` and `1.0` are different partitions).
//! - Removing an offset removes the entry; a connector without offsets has no entries.
//! - The file may be edited by hand while the worker is stopped (to rewind a source, delete or
//!   change its entry). A missing file means no offsets. A file that cannot be parsed, has an
//!   unknown `version` or lists a (connector, partition) twice stops the worker with an error
//!   naming the file: offsets are never silently discarded.
//!
//! Every write replaces the whole file atomically: it is written to a temporary file in the same
//! directory (`.<name>.<pid>.<n>.tmp`), fsynced, renamed over the file, and the directory is
//! fsynced.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use kconnect_connectors::api::OffsetStorageReader;
use kconnect_connectors::record::{canonical_partition_key, sorted_keys, OffsetMap};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format version written to, and accepted from, the file.
const VERSION: u64 = 1;

/// Reading or writing the offset file failed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    #[error("cannot read offset file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("offset file {} is corrupt: {why}", .path.display())]
    Corrupt {
        path: PathBuf,
        #[source]
        why: Corrupt,
    },
    #[error("cannot write offset file {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What is wrong with an offset file's content.
#[derive(Debug, thiserror::Error)]
pub enum Corrupt {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("unsupported version {0} (this kconnect reads version {VERSION})")]
    Version(serde_json::Value),
    #[error("connector {connector:?} lists partition {partition} twice")]
    DuplicatePartition {
        connector: String,
        partition: String,
    },
}

/// Connector name → canonical partition JSON → (partition, offset), both with sorted keys.
type Offsets = BTreeMap<String, BTreeMap<String, (OffsetMap, OffsetMap)>>;

/// Source offsets of every connector of a standalone worker, persisted to one file. Share it as
/// `Arc<FileOffsetStore>`; every method takes `&self`.
#[derive(Debug)]
pub struct FileOffsetStore {
    path: PathBuf,
    /// Always equal to the file's content as last written (or read).
    offsets: Mutex<Offsets>,
}

impl FileOffsetStore {
    /// Loads the store from `path`, after checking that its directory takes the temporary files
    /// every write needs. A missing file is an empty store; the file is created by the first
    /// [`put`](Self::put).
    pub fn open(path: PathBuf) -> Result<Self, OffsetStoreError> {
        let offsets = match fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|why| OffsetStoreError::Corrupt {
                path: path.clone(),
                why,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Offsets::new(),
            Err(source) => return Err(OffsetStoreError::Read { path, source }),
        };
        // A path that cannot be written (a missing directory, a read-only disk) stops the
        // worker at start instead of failing every flush later.
        probe_writable(&path).map_err(|source| OffsetStoreError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(FileOffsetStore {
            path,
            offsets: Mutex::new(offsets),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last committed offset of `connector`'s source `partition`.
    pub fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        let key = canonical_partition_key(partition);
        self.lock()
            .get(connector)?
            .get(&key)
            .map(|(_, offset)| offset.clone())
    }

    /// Every (partition, offset) of `connector`, in the file's order.
    pub fn all(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.lock()
            .get(connector)
            .map(|partitions| partitions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Sets (`Some`) or removes (`None`) the offsets of `connector`'s partitions, and returns once
    /// the file holds them. On error nothing is committed: reads keep returning the previous
    /// offsets.
    pub fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<(), OffsetStoreError> {
        self.put_many(vec![(connector.to_string(), entries)])
    }

    /// [`put`](Self::put) for several connectors' writes, in order, with one file write: what
    /// many committers asked for at once (a shutdown of many tasks) costs one fsync, not one
    /// each. All or nothing.
    pub fn put_many(&self, writes: Vec<ConnectorWrite>) -> Result<(), OffsetStoreError> {
        let mut current = self.lock();
        let mut next = current.clone();
        for (connector, entries) in writes {
            let partitions = next.entry(connector.clone()).or_default();
            for (partition, offset) in entries {
                let partition = sorted_keys(&partition);
                let key = canonical_partition_key(&partition);
                match offset {
                    Some(offset) => {
                        partitions.insert(key, (partition, sorted_keys(&offset)));
                    }
                    None => {
                        partitions.remove(&key);
                    }
                }
            }
            if partitions.is_empty() {
                next.remove(&connector);
            }
        }
        if next == *current {
            return Ok(());
        }
        let write_error = |source| OffsetStoreError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = parent_dir(&self.path);
        replace_file(&self.path, dir, &next).map_err(write_error)?;
        // The file now holds `next`, whether or not the directory sync below succeeds.
        *current = next;
        sync_dir(dir).map_err(write_error)
    }

    /// An [`OffsetStorageReader`] over `connector`'s offsets, for its tasks' contexts.
    pub fn reader(self: &Arc<Self>, connector: &str) -> Arc<dyn OffsetStorageReader> {
        Arc::new(ConnectorOffsetReader {
            store: Arc::clone(self),
            connector: connector.to_string(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Offsets> {
        // The map is only replaced after a successful write, so it is consistent even if a
        // thread panicked while holding the lock.
        self.offsets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One connector's offset changes: (connector, [(partition, offset or `None` to remove)]).
pub type ConnectorWrite = (String, Vec<(OffsetMap, Option<OffsetMap>)>);

/// One connector's view of a [`FileOffsetStore`].
struct ConnectorOffsetReader {
    store: Arc<FileOffsetStore>,
    connector: String,
}

impl OffsetStorageReader for ConnectorOffsetReader {
    fn offset(&self, partition: &OffsetMap) -> Option<OffsetMap> {
        self.store.get(&self.connector, partition)
    }
}

#[derive(Deserialize)]
struct Header {
    version: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[allow(dead_code)] // checked through `Header`
    version: u64,
    offsets: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    connector: String,
    partition: OffsetMap,
    offset: OffsetMap,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u64,
    offsets: Vec<EntryOut<'a>>,
}

#[derive(Serialize)]
struct EntryOut<'a> {
    connector: &'a str,
    partition: &'a OffsetMap,
    offset: &'a OffsetMap,
}

fn parse(bytes: &[u8]) -> Result<Offsets, Corrupt> {
    // The version first, so a file from a newer format is reported as such rather than as
    // whatever its first unknown field is.
    let header: Header = serde_json::from_slice(bytes)?;
    if header.version.as_u64() != Some(VERSION) {
        return Err(Corrupt::Version(header.version));
    }
    let file: FileIn = serde_json::from_slice(bytes)?;
    let mut offsets = Offsets::new();
    for entry in file.offsets {
        let partition = sorted_keys(&entry.partition);
        let key = canonical_partition_key(&partition);
        let previous = offsets
            .entry(entry.connector.clone())
            .or_default()
            .insert(key.clone(), (partition, sorted_keys(&entry.offset)));
        if previous.is_some() {
            return Err(Corrupt::DuplicatePartition {
                connector: entry.connector,
                partition: key,
            });
        }
    }
    Ok(offsets)
}

/// Writes `offsets` to a temporary file next to `path`, fsyncs it and renames it over `path`.
/// The temporary file is removed if any step fails.
fn replace_file(path: &Path, dir: &Path, offsets: &Offsets) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let document = FileOut {
        version: VERSION,
        offsets: offsets
            .iter()
            .flat_map(|(connector, partitions)| {
                partitions
                    .values()
                    .map(move |(partition, offset)| EntryOut {
                        connector,
                        partition,
                        offset,
                    })
            })
            .collect(),
    };
    let write = || -> io::Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut writer = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, &document)?;
        writer.write_all(b"\n")?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    // Elsewhere a directory cannot be opened to sync it; the rename is as durable as it gets.
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates, syncs and removes a temporary file where [`replace_file`] writes its own.
fn probe_writable(path: &Path) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    let probe = parent_dir(path).join(format!(
        ".{}.{}.probe.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|f| f.sync_all());
    let _ = fs::remove_file(&probe);
    written
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::thread;

    fn map(value: Value) -> OffsetMap {
        match value {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FileOffsetStore>();
        assert_send_sync::<Arc<FileOffsetStore>>();
    }

    #[test]
    fn missing_file_is_empty_store_and_is_not_created_by_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        assert_eq!(store.path(), path);
        assert_eq!(store.get("c", &map(json!({"f": "a"}))), None);
        assert!(store.all("c").is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn round_trip_across_reopen_in_the_documented_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        store
            .put(
                "local-file-source",
                vec![(
                    map(json!({"filename": "/tmp/test.txt"})),
                    Some(map(json!({"position": 1234}))),
                )],
            )
            .unwrap();
        store
            .put(
                "db-source",
                vec![
                    (
                        map(json!({"table": "b", "db": "x"})),
                        Some(map(json!({"ts": 2, "id": [1, {"z": 1, "a": null}]}))),
                    ),
                    (
                        map(json!({"db": "x", "table": "a"})),
                        Some(map(json!({"ts": 1.5}))),
                    ),
                ],
            )
            .unwrap();
        drop(store);

        let text = fs::read_to_string(&path).unwrap();
        let expected = json!({
            "version": 1,
            "offsets": [
                {"connector": "db-source", "partition": {"db": "x", "table": "a"},
                 "offset": {"ts": 1.5}},
                {"connector": "db-source", "partition": {"db": "x", "table": "b"},
                 "offset": {"id": [1, {"a": null, "z": 1}], "ts": 2}},
                {"connector": "local-file-source", "partition": {"filename": "/tmp/test.txt"},
                 "offset": {"position": 1234}},
            ]
        });
        assert_eq!(
            text,
            serde_json::to_string_pretty(&expected).unwrap() + "\n"
        );

        let store = FileOffsetStore::open(path).unwrap();
        assert_eq!(
            store.get(
                "local-file-source",
                &map(json!({"filename": "/tmp/test.txt"}))
            ),
            Some(map(json!({"position": 1234})))
        );
        assert_eq!(
            store.get("db-source", &map(json!({"table": "b", "db": "x"}))),
            Some(map(json!({"id": [1, {"a": null, "z": 1}], "ts": 2})))
        );
        assert_eq!(
            store.get("local-file-source", &map(json!({"table": "b", "db": "x"}))),
            None
        );
        assert_eq!(
            store.all("db-source"),
            vec![
                (
                    map(json!({"db": "x", "table": "a"})),
                    map(json!({"ts": 1.5}))
                ),
                (
                    map(json!({"db": "x", "table": "b"})),
                    map(json!({"id": [1, {"a": null, "z": 1}], "ts": 2}))
                ),
            ]
        );
    }

    #[test]
    fn later_put_replaces_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        let p = map(json!({"f": "a"}));
        store
            .put("c", vec![(p.clone(), Some(map(json!({"pos": 1}))))])
            .unwrap();
        store
            .put("c", vec![(p.clone(), Some(map(json!({"pos": 2}))))])
            .unwrap();
        let reopened = FileOffsetStore::open(path).unwrap();
        assert_eq!(reopened.all("c"), vec![(p, map(json!({"pos": 2})))]);
    }

    #[test]
    fn none_removes_the_partition() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        let a = map(json!({"f": "a"}));
        let b = map(json!({"f": "b"}));
        store
            .put(
                "c",
                vec![
                    (a.clone(), Some(map(json!({"pos": 1})))),
                    (b.clone(), Some(map(json!({"pos": 2})))),
                ],
            )
            .unwrap();
        store
            .put("other", vec![(a.clone(), Some(map(json!({"pos": 9}))))])
            .unwrap();
        store.put("c", vec![(a.clone(), None)]).unwrap();
        assert_eq!(store.get("c", &a), None);

        let reopened = FileOffsetStore::open(path.clone()).unwrap();
        assert_eq!(reopened.get("c", &a), None);
        assert_eq!(reopened.get("c", &b), Some(map(json!({"pos": 2}))));
        assert_eq!(reopened.get("other", &a), Some(map(json!({"pos": 9}))));

        // Removing the last partition removes the connector from the file.
        reopened.put("c", vec![(b.clone(), None)]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"c\""), "{text}");
        assert!(FileOffsetStore::open(path).unwrap().all("c").is_empty());
    }

    #[test]
    fn partition_key_order_does_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FileOffsetStore::open(dir.path().join("o.json")).unwrap());
        store
            .put(
                "c",
                vec![(
                    map(json!({"a": 1, "b": {"y": 2, "x": 1}})),
                    Some(map(json!({"pos": 7}))),
                )],
            )
            .unwrap();
        let reader = store.reader("c");
        let reordered = map(json!({"b": {"x": 1, "y": 2}, "a": 1}));
        assert_eq!(reader.offset(&reordered), Some(map(json!({"pos": 7}))));
        assert_eq!(store.reader("other").offset(&reordered), None);
        let missing = map(json!({"a": 2}));
        assert_eq!(
            reader.offsets(&[reordered.clone(), missing.clone()]),
            vec![(reordered, Some(map(json!({"pos": 7})))), (missing, None)]
        );
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let cases: [(&str, &str); 6] = [
            ("{\"version\": 1,\n \"offsets\": [\n", "line 3"),
            ("", "EOF"),
            ("{\"version\": 2, \"offsets\": []}", "unsupported version 2"),
            ("{\"offsets\": []}", "missing field `version`"),
            (
                "{\"version\": 1, \"offsets\": [{\"connector\": \"c\", \"partition\": {}}]}",
                "missing field `offset`",
            ),
            (
                r#"{"version": 1, "offsets": [
                    {"connector": "c", "partition": {"a": 1, "b": 2}, "offset": {}},
                    {"connector": "c", "partition": {"b": 2, "a": 1}, "offset": {}}]}"#,
                "twice",
            ),
        ];
        for (content, problem) in cases {
            fs::write(&path, content).unwrap();
            let err = FileOffsetStore::open(path.clone()).unwrap_err();
            assert!(matches!(err, OffsetStoreError::Corrupt { .. }), "{err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("offset file {} is corrupt: ", path.display())),
                "{text}"
            );
            assert!(text.contains(problem), "{problem:?} not in {text}");
            // The file is left as it was for the user to inspect.
            assert_eq!(fs::read_to_string(&path).unwrap(), content);
        }
        // What is wrong is a type a caller can match.
        fs::write(&path, cases[2].0).unwrap();
        let err = FileOffsetStore::open(path.clone()).unwrap_err();
        assert!(
            matches!(&err, OffsetStoreError::Corrupt { why: Corrupt::Version(v), .. } if *v == json!(2)),
            "{err:?}"
        );
        fs::write(&path, cases[5].0).unwrap();
        let err = FileOffsetStore::open(path.clone()).unwrap_err();
        assert!(
            matches!(&err, OffsetStoreError::Corrupt { why: Corrupt::DuplicatePartition { connector, partition }, .. }
                if connector == "c" && partition == r#"{"a":1,"b":2}"#),
            "{err:?}"
        );
    }

    #[test]
    fn unreadable_path_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileOffsetStore::open(dir.path().to_path_buf()).unwrap_err();
        assert!(matches!(err, OffsetStoreError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn no_temp_file_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = FileOffsetStore::open(path).unwrap();
        for i in 0..5 {
            store
                .put(
                    "c",
                    vec![(map(json!({"f": i})), Some(map(json!({"pos": i}))))],
                )
                .unwrap();
        }
        assert_eq!(dir_entries(dir.path()), vec!["connect.offsets"]);
    }

    #[test]
    fn failed_write_leaves_no_temp_file_and_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        let p = map(json!({"f": "a"}));
        // A non-empty directory where the file should be: the rename over it fails.
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), "x").unwrap();
        let err = store
            .put("c", vec![(p.clone(), Some(map(json!({"pos": 1}))))])
            .unwrap_err();
        assert!(matches!(err, OffsetStoreError::Write { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot write offset file {}: ", path.display())),
            "{err}"
        );
        assert_eq!(store.get("c", &p), None);
        assert_eq!(dir_entries(dir.path()), vec!["connect.offsets"]);
    }

    #[test]
    fn missing_directory_is_an_error_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("connect.offsets");
        let err = FileOffsetStore::open(path.clone()).unwrap_err();
        assert!(matches!(err, OffsetStoreError::Write { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_directory_removed_later_is_a_write_error() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let path = sub.join("connect.offsets");
        let store = FileOffsetStore::open(path.clone()).unwrap();
        assert_eq!(dir_entries(&sub), Vec::<String>::new(), "the probe is gone");
        fs::remove_dir(&sub).unwrap();
        let p = map(json!({"f": "a"}));
        let err = store
            .put("c", vec![(p.clone(), Some(map(json!({"pos": 1}))))])
            .unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(store.get("c", &p), None);
    }

    #[test]
    fn concurrent_puts_are_all_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = Arc::new(FileOffsetStore::open(path.clone()).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    for i in 0..20 {
                        store
                            .put(
                                &format!("connector-{}", t % 3),
                                vec![(
                                    map(json!({"thread": t, "i": i})),
                                    Some(map(json!({"pos": t * 100 + i}))),
                                )],
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let reopened = FileOffsetStore::open(path).unwrap();
        let total: usize = (0..3)
            .map(|c| reopened.all(&format!("connector-{c}")).len())
            .sum();
        assert_eq!(total, 160);
        for t in 0..8 {
            for i in 0..20 {
                assert_eq!(
                    reopened.get(
                        &format!("connector-{}", t % 3),
                        &map(json!({"i": i, "thread": t}))
                    ),
                    Some(map(json!({"pos": t * 100 + i}))),
                    "thread {t} put {i}"
                );
            }
        }
        assert_eq!(dir_entries(dir.path()), vec!["connect.offsets"]);
    }
}
