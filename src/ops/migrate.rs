//! A full migrate: adopt the database first when Alembic still manages it, then apply
//! every pending migration, all under the migration lock.

use crate::database::Database;
use crate::error::Result;
use crate::migration::report::{Adoption, Report, Step};

/// What a migrate reports as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An Alembic database was taken over (before any migration ran).
    Adopted(&'a Adoption),
    /// A migration finished.
    Step(&'a Step),
}

impl Database {
    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<Report> {
        self.migrate_with(None, &mut |_| {}).await
    }

    /// Applies pending migrations up to and including `to` (all when `None`), calling
    /// `on_event` as it goes. Holds the migration lock throughout.
    ///
    /// A database that the Python bot's Alembic managed (it has `alembic_version` and no
    /// diesel bookkeeping) is adopted first, see [`Database::adopt`].
    pub async fn migrate_with(
        &self,
        to: Option<&str>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<Report> {
        self.refuse_standby().await?;
        self.locked(async {
            let adopted = match self.alembic_revision().await? {
                Some(_) => Some(self.adopt_unlocked(false).await?),
                None => None,
            };
            if let Some(adoption) = &adopted {
                on_event(Event::Adopted(adoption));
            }
            let report = self
                .apply_pending(to, &mut |step| on_event(Event::Step(step)))
                .await?;
            Ok(Report { adopted, ..report })
        })
        .await
    }
}
