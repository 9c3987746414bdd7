//! Which applications an invitation opens: the choice at issue time, its destination
//! inside them, and a coworker narrowing or widening an existing invitation's access.

use super::super::db;
use super::super::store::applications::{self, Application};
use super::super::store::coworkers::Coworker;
use super::super::store::events::Event;
use super::super::store::links;
use super::super::urls::parse_absolute;
use super::super::{now, OrInternal};
use super::input::DESTINATION_RULE;
use crate::error::AppError;
use crate::model::events::EventKind;
use crate::server::gate::{self, subject::Subject};
use sqlx::AnyPool;
use tracing::info;

/// The applications an invitation will open: `chosen` (each must be registered), or
/// when nothing was chosen the first registered application (none when there is none).
pub async fn resolve<'e, E>(
    executor: E,
    chosen: Option<&[i64]>,
) -> Result<Vec<Application>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let all = applications::all(executor)
        .await
        .or_internal("reading applications")?;
    let Some(chosen) = chosen else {
        return Ok(all.into_iter().take(1).collect());
    };
    chosen
        .iter()
        .map(|id| {
            all.iter().find(|app| app.id == *id).cloned().ok_or_else(|| {
                AppError::invalid(
                    "applications",
                    "One of the chosen applications is not registered (any more): reload and choose again.",
                )
            })
        })
        .collect()
}

/// A destination that is an address must be inside one of the applications the
/// invitation opens; a path on Latchkey is always fine.
pub fn check_destination(destination: Option<&str>, opens: &[Application]) -> Result<(), AppError> {
    let Some(url) = destination.and_then(parse_absolute) else {
        return Ok(());
    };
    if opens.iter().any(|app| app.base.contains(&url)) {
        Ok(())
    } else {
        Err(AppError::invalid("destination", DESTINATION_RULE))
    }
}

/// Sets which applications invitation `id` opens, and records the change on its trail:
/// what was added (widening) and what was taken away (narrowing). A session already
/// open loses an application at its very next request.
pub async fn set_access(
    writer: &AnyPool,
    coworker: &Coworker,
    id: i64,
    chosen: &[i64],
) -> Result<(), AppError> {
    let at = now();
    let mut tx = db::begin_write(writer)
        .await
        .or_internal("starting an access change")?;
    if links::by_id(&mut *tx, id, at)
        .await
        .or_internal("reading a link")?
        .is_none_or(|link| !link.is_invite())
    {
        return Err(AppError::NotFound);
    }
    let wanted = resolve(&mut *tx, Some(chosen)).await?;
    let before = applications::of_link(&mut *tx, id)
        .await
        .or_internal("reading a link's applications")?;
    let names = |apps: &mut dyn Iterator<Item = &Application>| {
        apps.map(|app| app.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let added = names(
        &mut wanted
            .iter()
            .filter(|app| !before.iter().any(|b| b.id == app.id)),
    );
    let removed = names(
        &mut before
            .iter()
            .filter(|app| !wanted.iter().any(|w| w.id == app.id)),
    );
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = wanted.iter().map(|app| app.id).collect();
    applications::set_for_link(&mut tx, id, &ids)
        .await
        .or_internal("changing a link's applications")?;
    let detail = match (added.is_empty(), removed.is_empty()) {
        (false, true) => format!("widened: added {added}"),
        (true, false) => format!("narrowed: removed {removed}"),
        _ => format!("added {added}; removed {removed}"),
    };
    Event::new(EventKind::AccessChanged)
        .by(coworker.id)
        .detail(&detail)
        .record(&mut *tx, id, at)
        .await
        .or_internal("recording an access change")?;
    tx.commit()
        .await
        .or_internal("committing an access change")?;
    gate::changed(Subject::Link(id));
    info!(link_id = id, "access changed");
    Ok(())
}
