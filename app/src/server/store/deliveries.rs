//! A mail's outcome on its link and on the link's trail, as a group-commit [`Job`]:
//! outcomes that arrive together share one transaction.

use super::events::{truncate, MAX_DETAIL_BYTES};
use crate::model::events::EventKind;
use crate::model::links::Delivery;
use crate::server::group::{self, Job, Query};
use std::sync::OnceLock;

/// A delivery's outcome.
pub struct DeliveryOutcome {
    pub id: i64,
    pub delivery: Delivery,
    pub error: Option<String>,
    pub at: i64,
}

impl std::fmt::Debug for DeliveryOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryOutcome { .. }")
    }
}

impl Job for DeliveryOutcome {
    /// Nothing comes back.
    type Row = (i64,);
    const DOING: &'static str = "recording deliveries";
    const QUEUE: &'static str = "deliveries";

    fn statements(_: usize) -> String {
        "
        UPDATE magic_links SET delivery = ?, delivery_error = ? WHERE id = ?;
        INSERT INTO link_events (link_id, at, kind, detail) VALUES (?, ?, ?, ?);"
            .to_owned()
    }

    fn bind(self, query: Query<Self::Row>) -> Query<Self::Row> {
        let kind = match &self.error {
            None => EventKind::MailSent,
            Some(_) => EventKind::MailFailed,
        };
        let detail = self
            .error
            .as_deref()
            .map(|e| truncate(e, MAX_DETAIL_BYTES).to_owned());
        query
            .bind(self.delivery.as_str())
            .bind(self.error)
            .bind(self.id)
            .bind(self.id)
            .bind(self.at)
            .bind(kind.code())
            .bind(detail)
    }

    fn alone_sql() -> &'static str {
        "WITH updated AS (UPDATE magic_links SET delivery = $1, delivery_error = $2 WHERE id = $3)
         INSERT INTO link_events (link_id, at, kind, detail) VALUES ($4, $5, $6, $7)"
    }

    fn batch_sql(count: usize) -> &'static str {
        static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
        group::batch_sql(&BATCHES, Self::statements, count)
    }
}
