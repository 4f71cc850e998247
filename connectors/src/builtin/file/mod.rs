//! Kafka's FileStream connectors: a source that tails a file (or stdin) line by line and a sink
//! that appends each record's value to a file as one line.

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

/// Source and sink: the file to read or append to.
pub const FILE_CONFIG: &str = "file";
/// Source: the one topic to publish lines to.
pub const TOPIC_CONFIG: &str = "topic";
/// Source: the most lines one `poll` returns.
pub const TASK_BATCH_SIZE_CONFIG: &str = "batch.size";
/// The default `batch.size` of the file source: the most lines one `poll` returns.
pub const DEFAULT_TASK_BATCH_SIZE: i32 = 2000;

/// The source partition key: `{"filename": <file>}`.
pub const FILENAME_FIELD: &str = "filename";
/// The source offset key: `{"position": <byte position after the line's terminator>}`.
pub const POSITION_FIELD: &str = "position";

/// The class names Kafka gives these connectors.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
/// The sink connector's class name, as Connect's.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
