//! What the commands print: progress lines, heartbeats, summaries, adoptions, durations,
//! and the one JSON document of `--format json`.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use botdb::migration::report::plural;
use botdb::migration::report::Running;
use botdb::migration::{Action, Adoption, MigrationId};
use botdb::{Database, DatabaseUrl, Report, Step};
use serde_json::{json, Value};

use super::args::GlobalArgs;
use super::error::CliError;
pub use super::format::Format;

/// Prints `document` as the command's one JSON document on stdout.
pub fn print_json(document: &Value) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{document:#}")?;
    out.flush()?;
    Ok(())
}

/// A migration in JSON: `{"version": …, "name": …}`.
pub fn migration_json(id: &MigrationId) -> Value {
    json!({ "version": id.version, "name": id.name })
}

/// An adoption in JSON.
pub fn adoption_json(adoption: &Adoption) -> Value {
    json!({
        "revision": adoption.revision,
        "stamped": adoption.stamped.iter().map(migration_json).collect::<Vec<_>>(),
        "dropped_alembic_version": adoption.dropped_alembic_version,
    })
}

fn step_json(step: &Step) -> Value {
    json!({
        "version": step.migration.version,
        "name": step.migration.name,
        "action": step.action,
        "duration_ms": duration_ms(step.duration),
    })
}

/// Milliseconds with microsecond precision, for JSON.
fn duration_ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// How often, and after how long, a running migration is reported on stderr.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Prints each migration as it finishes, a heartbeat while one runs long, and the closing
/// summary (or, with `--format json`, the one document at the end).
pub struct Progress {
    out: io::Stdout,
    error: Option<io::Error>,
    format: Format,
    created: Option<bool>,
    heartbeat: Option<Heartbeat>,
}

impl Progress {
    /// Before a run: from now on a migration that runs past ~2 s is named on stderr
    /// every ~2 s (not with --quiet).
    pub fn start(global: &GlobalArgs) -> Self {
        Self {
            out: io::stdout(),
            error: None,
            format: global.format,
            created: None,
            heartbeat: (!global.quiet).then(Heartbeat::start).flatten(),
        }
    }

    pub fn step(&mut self, step: &Step) {
        if self.error.is_none() && self.format == Format::Text {
            let line = format!(
                "{:<8} {} ({})",
                step.action,
                step.migration,
                millis(step.duration)
            );
            self.error = writeln!(self.out, "{line}").err();
        }
    }

    /// An Alembic database was taken over before any migration ran.
    pub fn adopted(&mut self, adoption: &Adoption) {
        if self.error.is_none() && self.format == Format::Text {
            if let Err(CliError::Output(e)) = print_adoption(&mut self.out, adoption) {
                self.error = Some(e);
            }
        }
    }

    /// `created <url>` or `<url> exists`, for setup and reset.
    pub fn created(&mut self, created: bool, url: &DatabaseUrl) -> Result<(), CliError> {
        self.created = Some(created);
        if self.format == Format::Json {
            return Ok(());
        }
        if created {
            writeln!(self.out, "created  {url}")?;
        } else {
            writeln!(self.out, "exists   {url}")?;
        }
        Ok(())
    }

    /// Prints a migrate report that was not streamed, then the summary.
    pub fn report(mut self, db: &Database, report: &Report) -> Result<ExitCode, CliError> {
        if let Some(adoption) = &report.adopted {
            self.adopted(adoption);
        }
        for step in &report.applied {
            self.step(step);
        }
        self.finish(db, report, "migrate", report.applied.len())
    }

    /// `<verb> N migrations in T; <where the database is>`, or `nothing to <verb>: …`.
    /// T is the sum of the step times printed above it.
    pub fn finish(
        mut self,
        db: &Database,
        report: &Report,
        done: &str,
        count: usize,
    ) -> Result<ExitCode, CliError> {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.stop();
        }
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let total: Duration = report
            .reverted
            .iter()
            .chain(&report.applied)
            .map(|s| s.duration)
            .sum();
        if self.format == Format::Json {
            let current = current_json(db, report.current.as_deref())?;
            let mut document = json!({
                "command": done,
                "database": db.url().redacted(),
                "backend": db.url().backend(),
                "adopted": report.adopted.as_ref().map(adoption_json),
                "reverted": report.reverted.iter().map(step_json).collect::<Vec<_>>(),
                "applied": report.applied.iter().map(step_json).collect::<Vec<_>>(),
                "current": current,
                "duration_ms": duration_ms(total),
            });
            if let Some(created) = self.created {
                document["created"] = json!(created);
            }
            print_json(&document)?;
            return Ok(ExitCode::SUCCESS);
        }
        let at = position(db, report.current.as_deref())?;
        if count == 0 {
            writeln!(self.out, "nothing to {done}: {at}")?;
        } else {
            writeln!(
                self.out,
                "{done}: {} in {}; {at}",
                plural(count, "migration"),
                millis(total)
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.stop();
        }
    }
}

/// A thread that names the running migration on stderr every [`HEARTBEAT`] while it runs
/// longer than that. A thread rather than a task: the migration blocks the runtime's
/// worker while it runs.
struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Heartbeat {
    fn start() -> Option<Self> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("botdb-heartbeat".into())
            .spawn(move || beat(&stopped))
            // Without the thread the run goes on; only the heartbeat is missing.
            .ok()?;
        Some(Self { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// How often the heartbeat looks at what is running.
const LOOK: Duration = Duration::from_millis(250);

fn beat(stopped: &mpsc::Receiver<()>) {
    // The migration last reported, and how many beats it has had.
    let mut last: Option<(Running, u32)> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(LOOK) {
        let Some(running) = Running::now() else {
            continue;
        };
        let beats = match &last {
            Some((r, beats)) if *r == running => *beats,
            _ => 0,
        };
        let elapsed = running.since.elapsed();
        if elapsed >= HEARTBEAT * (beats + 1) {
            let verb = match running.action {
                Action::Applied => "applying",
                Action::Reverted => "reverting",
            };
            let _ = writeln!(
                io::stderr(),
                "{verb} {} ({} so far)",
                running.migration,
                seconds(elapsed)
            );
            // Counted from the time, so a late look does not bring two lines at once.
            let due =
                u32::try_from(elapsed.as_millis() / HEARTBEAT.as_millis()).unwrap_or(u32::MAX);
            last = Some((running, due));
        }
    }
}

/// What an adoption did, one line per stamped migration.
pub fn print_adoption(out: &mut impl Write, adoption: &Adoption) -> Result<(), CliError> {
    for m in &adoption.stamped {
        writeln!(out, "stamped  {m}")?;
    }
    let kept = if adoption.dropped_alembic_version {
        "dropped"
    } else {
        "kept"
    };
    writeln!(
        out,
        "adopted Alembic revision {}: {} recorded as applied, alembic_version {kept}",
        adoption.revision,
        plural(adoption.stamped.len(), "migration")
    )?;
    Ok(())
}

/// `<1 ms`, `12 ms`, `1.20 s`.
fn millis(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        "<1 ms".to_string()
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `4 s`, `1 min 12 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// The closing line of migrate, revert and redo.
pub fn position(db: &Database, current: Option<&str>) -> Result<String, CliError> {
    let catalog = db.catalog()?;
    Ok(match current {
        None => format!("{} has no migrations applied", db.url()),
        Some(v) => {
            let name = catalog.get(v).map_or(v, |m| m.id.name.as_str());
            format!("{} is at {name}", db.url())
        }
    })
}

/// Where the newest migration is now, in JSON: `{"version": …, "name": …}` or null.
pub fn current_json(db: &Database, current: Option<&str>) -> Result<Value, CliError> {
    let catalog = db.catalog()?;
    Ok(match current {
        None => Value::Null,
        Some(v) => json!({
            "version": v,
            "name": catalog.get(v).map(|m| m.id.name.as_str()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_under_a_millisecond_are_not_zero() {
        assert_eq!(millis(Duration::from_micros(300)), "<1 ms");
        assert_eq!(millis(Duration::from_millis(1)), "1 ms");
        assert_eq!(millis(Duration::from_millis(999)), "999 ms");
        assert_eq!(millis(Duration::from_millis(1200)), "1.20 s");
        assert_eq!(seconds(Duration::from_secs(4)), "4 s");
        assert_eq!(seconds(Duration::from_secs(72)), "1 min 12 s");
    }
}
