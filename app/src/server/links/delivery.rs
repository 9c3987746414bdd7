//! Mailing a link and recording how it went: on the link (`delivery`) and on its trail
//! (`mail_sent` / `mail_failed`), committed with other outcomes waiting.

use super::super::group::GroupCommit;
use super::super::mail::{Invitation, Letter, Postman};
use super::super::state::AppState;
use super::super::store::deliveries::DeliveryOutcome;
use super::super::store::links::{Created, LinkSpec};
use super::super::{now, OrInternal};
use crate::error::AppError;
use crate::model::links::{Delivery, IssuedLink};
use crate::server::email::EmailAddress;
use tracing::warn;

/// Mails a freshly created invitation and answers what the coworker sees this once.
pub(super) async fn mail_invitation(
    state: &AppState,
    spec: &LinkSpec<'_>,
    created: &Created,
    (inviter_name, inviter_email): (&str, &str),
) -> Result<IssuedLink, AppError> {
    let url = created.token.link(&state.config.public_url);
    let to = EmailAddress::parse("email", spec.email)?;
    let letter = state
        .postman
        .invitation(&Invitation {
            to: &to,
            to_name: spec.name,
            inviter_name,
            inviter_email,
            message: spec.message,
            url: &url,
            code: created.code.as_ref(),
            expires_at: created.expires_at,
            lifetime_secs: spec.lifetime_secs,
        })
        .or_internal("composing the invitation")?;
    let (delivery, delivery_error) =
        deliver(&state.deliveries, &state.postman, created.id, letter).await?;
    Ok(IssuedLink {
        id: created.id,
        email: spec.email.to_owned(),
        expires_at: created.expires_at,
        delivery,
        delivery_error,
        url,
    })
}

/// Sends a letter for link `id` and records the outcome on the link and its trail.
///
/// The work runs in its own task: if the coworker's browser goes away mid-request, the
/// request is dropped but the mail is still sent and its outcome still recorded, so no
/// link is left "Sending" for ever.
pub(super) async fn deliver(
    deliveries: &GroupCommit<DeliveryOutcome>,
    postman: &Postman,
    id: i64,
    letter: Letter,
) -> Result<(Delivery, Option<String>), AppError> {
    let (deliveries, postman) = (deliveries.clone(), postman.clone());
    tokio::spawn(async move { deliver_now(&deliveries, &postman, id, letter).await })
        .await
        .or_internal("delivering a mail")?
}

async fn deliver_now(
    deliveries: &GroupCommit<DeliveryOutcome>,
    postman: &Postman,
    id: i64,
    letter: Letter,
) -> Result<(Delivery, Option<String>), AppError> {
    let (delivery, error) = match postman.send(letter).await {
        Ok(()) => (Delivery::Sent, None),
        Err(error) => {
            warn!(link_id = id, %error, "mail delivery failed");
            (Delivery::Failed, Some(error.into_words()))
        }
    };
    deliveries
        .commit(DeliveryOutcome {
            id,
            delivery,
            error: error.clone(),
            at: now(),
        })
        .await?;
    Ok((delivery, error))
}
