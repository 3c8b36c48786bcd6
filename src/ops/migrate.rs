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
    ///
    /// The run goes on to its end even if this future is dropped (a timeout, a
    /// `select!`): it runs on a task of its own, which holds the migration lock until the
    /// last migration has finished and then releases it, so no other migrator starts
    /// alongside it. The caller only stops hearing about it.
    pub async fn migrate_with(
        &self,
        to: Option<&str>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<Report> {
        // A standby is refused before the lock is taken (a lock row cannot be written there).
        self.refuse_standby().await?;
        let to = to.map(str::to_owned);
        let on_owned = &mut |event: &Owned| match event {
            Owned::Adopted(adoption) => on_event(Event::Adopted(adoption)),
            Owned::Step(step) => on_event(Event::Step(step)),
        };
        self.to_the_end(on_owned, move |db, events| async move {
            db.migrate_locked(to.as_deref(), &mut |event| {
                let _ = events.send(match event {
                    Event::Adopted(adoption) => Owned::Adopted(adoption.clone()),
                    Event::Step(step) => Owned::Step(step.clone()),
                });
            })
            .await
        })
        .await
    }

    async fn migrate_locked(
        &self,
        to: Option<&str>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<Report> {
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

/// An [`Event`] sent from the task a migrate runs on.
enum Owned {
    Adopted(Adoption),
    Step(Step),
}
