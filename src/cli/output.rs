//! What the commands print: progress lines, summaries, adoptions, durations.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use botdb::migration::report::plural;
use botdb::migration::Adoption;
use botdb::{Database, DatabaseUrl, Report, Step};

use super::error::CliError;

/// Prints each migration as it finishes, and the closing summary.
pub struct Progress {
    out: io::Stdout,
    error: Option<io::Error>,
    start: std::time::Instant,
}

impl Progress {
    pub fn start() -> Self {
        Self {
            out: io::stdout(),
            error: None,
            start: std::time::Instant::now(),
        }
    }

    pub fn step(&mut self, step: &Step) {
        if self.error.is_none() {
            let line = format!(
                "{:<8} {} ({})",
                step.action,
                step.migration,
                millis(step.duration)
            );
            self.error = writeln!(self.out, "{line}").err();
        }
    }

    /// `created <url>` or `<url> exists`, for setup and reset.
    pub fn created(&mut self, created: bool, url: &DatabaseUrl) -> Result<(), CliError> {
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
            print_adoption(&mut self.out, adoption)?;
        }
        for step in &report.applied {
            self.step(step);
        }
        self.finish(db, report, "migrate", report.applied.len())
    }

    /// `<verb> N migrations in T; <where the database is>`, or `nothing to <verb>: …`.
    pub fn finish(
        mut self,
        db: &Database,
        report: &Report,
        done: &str,
        count: usize,
    ) -> Result<ExitCode, CliError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let at = position(db, report.current.as_deref())?;
        if count == 0 {
            writeln!(self.out, "nothing to {done}: {at}")?;
        } else {
            let elapsed = millis(self.start.elapsed());
            writeln!(
                self.out,
                "{done}: {} in {elapsed}; {at}",
                plural(count, "migration")
            )?;
        }
        Ok(ExitCode::SUCCESS)
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

/// `12 ms`, `1.20 s`.
fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
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
