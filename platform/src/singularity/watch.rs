//! What the model knows of its tasks between deploys, at a bounded cost whatever the page
//! asks: statuses from one look at all tasks every check interval (one `docker ps`, not one
//! call per task), each ended task's last lines kept once when it ends, and a running task's
//! lines fetched only when asked for, at most once a second per task however many pages ask.

use std::{
    collections::HashMap,
    sync::{Arc, Weak, atomic::Ordering},
    time::{Duration, Instant},
};

use super::{Inner, limits::MIN_INTERVAL, state::TaskStatus};
use crate::runtime::{self, Runtime};

/// How many lines of a task are kept when it ends, and shown for a running one.
pub(super) const LOG_LINES: usize = 20;

/// How many of those a failure's message quotes.
const FAILURE_LOG_LINES: usize = 5;

/// The longest line kept, in characters: a task that prints one endless line must not make
/// the page's answers (nor the kept lines of 50 ended tasks) megabytes long.
const LINE_LIMIT: usize = 2000;

/// How long a running task's lines fetched for the page are served again without a new call.
const FRESH: Duration = Duration::from_secs(1);

/// A running task's lines last fetched, and when; `None` until the first fetch ends.
pub(super) type Fetched = Arc<tokio::sync::Mutex<Option<(Instant, Vec<String>)>>>;

/// Starts the model's look at its tasks every check interval, once (at its first task). It
/// ends with the model.
pub(super) fn start<R: Runtime>(inner: &Arc<Inner<R>>) {
    if inner.watching.swap(true, Ordering::Relaxed) {
        return;
    }
    let interval = inner.settings.check_interval.max(MIN_INTERVAL);
    let inner = Arc::downgrade(inner);
    tokio::spawn(every(inner, interval));
}

async fn every<R: Runtime>(inner: Weak<Inner<R>>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        refresh(&inner, |_| true).await;
    }
}

/// Brings the running tasks `which` selects up to date, with one question to the runtime: a
/// task that ended by itself is failed with its exit code and last lines (Mesos's "Container
/// exited with status N"; the lines are this platform's addition, documented in the module's
/// docs), and let go by the runtime.
pub(super) async fn refresh<R: Runtime>(inner: &Inner<R>, which: impl Fn(&str) -> bool) {
    // Only the tasks running before the question: one that starts meanwhile may be missing
    // from the answer without having ended.
    let running: Vec<String> = {
        let state = inner.state.lock().await;
        state
            .tasks
            .iter()
            .filter(|t| matches!(t.status, TaskStatus::Running { .. }) && which(&t.id.id))
            .map(|t| t.id.id.clone())
            .collect()
    };
    if running.is_empty() {
        return;
    }
    // A slow or busy engine says nothing about the tasks: take them as unchanged, so that a
    // hiccup of Docker never fails a deploy. The next look asks again.
    let Ok(statuses) = inner.runtime.statuses().await else {
        return;
    };
    for task_id in running {
        let code = match statuses.get(&task_id) {
            Some(runtime::RunStatus::Running) => continue,
            Some(runtime::RunStatus::Exited { code }) => *code,
            // Removed behind the platform's back: it is gone.
            None => None,
        };
        let lines = keep_lines(inner, &task_id).await;
        let mut message = match code {
            Some(code) => format!("Container exited with status {code}"),
            None => "Container terminated by a signal".to_string(),
        };
        let quoted = &lines[lines.len().saturating_sub(FAILURE_LOG_LINES)..];
        if !quoted.is_empty() {
            message.push_str(&format!("; last lines: {}", quoted.join(" | ")));
        }
        let failed = TaskStatus::Failed { code, message };
        inner.state.lock().await.set_status(&task_id, failed);
    }
}

/// Reads an ended task's last lines once, keeps them with the task for the page, and lets
/// the runtime remove what it holds of it: the lines.
pub(super) async fn keep_lines<R: Runtime>(inner: &Inner<R>, task_id: &str) -> Vec<String> {
    let lines = cut(inner.runtime.logs(task_id, LOG_LINES).await);
    {
        let mut state = inner.state.lock().await;
        if let Some(task) = state.tasks.iter_mut().find(|t| t.id.id == task_id) {
            task.lines = lines.clone();
        }
    }
    inner.runtime.release(task_id).await;
    lines
}

/// A task's last lines for the page: those kept for an ended task, a fetch (or one less than
/// [`FRESH`] old) for a running one; `None` for a task the model does not list.
pub(super) async fn lines<R: Runtime>(inner: &Inner<R>, task_id: &str) -> Option<Vec<String>> {
    {
        let state = inner.state.lock().await;
        let task = state.tasks.iter().find(|t| t.id.id == task_id)?;
        if !matches!(task.status, TaskStatus::Running { .. }) {
            return Some(task.lines.clone());
        }
    }
    let fetched = {
        let mut cache = crate::lock(&inner.fetched);
        // Only fetches under way or still fresh are kept: at most one per running task.
        cache.retain(|_, fetched| {
            fetched.try_lock().map_or(true, |last| {
                last.as_ref().is_some_and(|(at, _)| at.elapsed() < FRESH)
            })
        });
        Arc::clone(cache.entry(task_id.to_string()).or_default())
    };
    // A second page asking meanwhile waits for this fetch and shares it.
    let mut last = fetched.lock().await;
    match &*last {
        Some((at, lines)) if at.elapsed() < FRESH => Some(lines.clone()),
        _ => {
            let lines = cut(inner.runtime.logs(task_id, LOG_LINES).await);
            *last = Some((Instant::now(), lines.clone()));
            Some(lines)
        }
    }
}

/// The fetches of running tasks' lines, by task id.
pub(super) type Cache = std::sync::Mutex<HashMap<String, Fetched>>;

/// Each line cut at [`LINE_LIMIT`] characters.
fn cut(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|line| match line.char_indices().nth(LINE_LIMIT) {
            Some((at, _)) => format!("{}…", &line[..at]),
            None => line,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut() {
        let long = "é".repeat(LINE_LIMIT + 5);
        let lines = cut(vec![long, "short".into()]);
        assert_eq!(lines[0].chars().count(), LINE_LIMIT + 1);
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "short");
    }
}
