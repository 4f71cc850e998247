//! Connect's `LogReporter`: one ERROR line per failed operation when `errors.log.enable` is set,
//! naming the task, the stage and the executing class, and, with
//! `errors.log.include.messages`, the record (a sink's by its coordinates and timestamp only,
//! never its data, as Connect does; a source's as it stood when the stage failed).

use super::{Executing, ProcessingRecord};

/// The line, as Connect words it: "Error encountered in task c-0. Executing stage
/// 'VALUE_CONVERTER' with class '…JsonConverter', where consumed record is {…}."
pub(super) fn message(
    task: &str,
    exec: &Executing<'_>,
    record: &(impl ProcessingRecord + ?Sized),
    include_record: bool,
) -> String {
    let mut line = format!(
        "Error encountered in task {task}. Executing stage '{}' with class '{}'",
        exec.stage.name(),
        exec.class
    );
    if include_record {
        line.push_str(", where ");
        line.push_str(&record.log_detail());
    }
    line.push('.');
    line
}
