//! A task's output through the API, as `SandboxResource.read` gives a file of the task's
//! sandbox (`MesosFileChunkObject`: `data` from byte `offset`), read from the Mesos agent's
//! `/files/read`.
//!
//! Where this differs: the platform keeps a task's last lines only (see
//! [`Singularity::task_lines`]), stdout and stderr together as Docker gives them back. So the
//! sandbox holds one file, `stdout`, whose text is those lines, each ending in a newline;
//! `stderr` is refused with a message saying where its lines are, any other path is missing.
//! Its offsets count from the oldest line kept, not from the task's start.

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use serde_json::json;

use super::{Answer, bad_request, dropwizard, ok, query::Params, tasks::check_history_task_id};
use crate::runtime::Runtime;
use crate::singularity::Singularity;

/// What Mesos's `/files/read` sends at most in one answer: 16 pages of 4 KiB.
const MAX_LENGTH: usize = 16 * 4096;

/// `GET /api/sandbox/{taskId}/read?path=…&offset=…&length=…`.
pub(in crate::singularity) async fn read<R: Runtime>(
    State(singularity): State<Singularity<R>>,
    Path(task_id): Path<String>,
    query: RawQuery,
) -> Answer {
    check_history_task_id(&task_id)?;
    let query = Params::of(query);
    if query.text("grep").is_some_and(|grep| !grep.is_empty()) {
        return Err(bad_request(
            "This practice platform does not model grep in the sandbox: read the whole file",
        ));
    }
    let (offset, length) = (query.number("offset")?, query.number("length")?);
    let Some(lines) = singularity.task_lines(&task_id).await else {
        return Err(dropwizard(
            StatusCode::NOT_FOUND,
            &format!("No history for task {task_id}"),
        ));
    };
    let path = query.text("path").unwrap_or_default();
    match path.trim_start_matches('/') {
        "" => Err(bad_request("Must specify 'path'")),
        "stdout" => {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            let (data, offset) = chunk(&text, offset, length)?;
            Ok(ok(json!({ "data": data, "offset": offset })))
        }
        "stderr" => Err(bad_request(
            "This practice platform keeps a task's stdout and stderr together: read path stdout",
        )),
        _ => Err(dropwizard(
            StatusCode::NOT_FOUND,
            &format!("File {path} does not exist for task ID {task_id}"),
        )),
    }
}

/// Mesos's `/files/read` over `text`: without an offset, no data and the file's size (how a
/// reader finds the end); from an offset, at most `length` bytes (all the rest by default),
/// capped at [`MAX_LENGTH`]; past the end, no data. A chunk that cuts a character is trimmed
/// to whole ones, the offset moved by what was cut in front, as `SandboxManager` does.
fn chunk(
    text: &str,
    offset: Option<i64>,
    length: Option<i64>,
) -> Result<(String, usize), super::Refusal> {
    let Some(offset) = offset else {
        return Ok((String::new(), text.len()));
    };
    let (Ok(offset), Ok(length)) = (
        usize::try_from(offset),
        length.map_or(Ok(usize::MAX), usize::try_from),
    ) else {
        return Err(bad_request(
            "This practice platform reads no negative offset or length",
        ));
    };
    if offset >= text.len() {
        return Ok((String::new(), text.len()));
    }
    let mut start = offset;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let mut end = offset
        .saturating_add(length.min(MAX_LENGTH))
        .min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Ok((text[start..end.max(start)].to_string(), start))
}

#[cfg(test)]
mod tests {
    use super::chunk;

    fn read(text: &str, offset: Option<i64>, length: Option<i64>) -> (String, usize) {
        chunk(text, offset, length).ok().expect("a chunk")
    }

    #[test]
    fn chunks_are_read_as_mesos_reads_them() {
        let text = "one\ntwo\n";
        assert_eq!(read(text, None, Some(3)), ("".into(), 8));
        assert_eq!(read(text, Some(0), None), (text.into(), 0));
        assert_eq!(read(text, Some(4), Some(2)), ("tw".into(), 4));
        assert_eq!(read(text, Some(8), None), ("".into(), 8));
        assert_eq!(read(text, Some(50), Some(1)), ("".into(), 8));
        assert!(chunk(text, Some(-1), None).is_err());
    }

    #[test]
    fn a_cut_character_is_left_out() {
        // "é" is two bytes: a chunk from its second byte starts after it.
        assert_eq!(read("aéb", Some(2), None), ("b".into(), 3));
        assert_eq!(read("aéb", Some(0), Some(2)), ("a".into(), 0));
    }

    #[test]
    fn one_chunk_is_at_most_sixteen_pages() {
        let text = "x".repeat(super::MAX_LENGTH * 2);
        assert_eq!(read(&text, Some(0), None).0.len(), super::MAX_LENGTH);
    }
}
