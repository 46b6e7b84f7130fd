//! Object-level permission checks: where an object stands relative to the actor, and the
//! answer the permission table gives for it.

use crate::web::auth::CurrentUser;
use crate::web::error::{Failure, FeatureError};
use certdesk_domain::permissions::{authorize, Action, Refusal, Relation};

/// The relation of an object owned by `owner_account` in `owner_org` to the actor.
pub fn relation_to(
    user: &CurrentUser,
    owner_account: Option<i64>,
    owner_org: Option<i64>,
) -> Relation {
    let me = user.account();
    if owner_account == Some(me.id) {
        return Relation::OwnAccount;
    }
    match (owner_org, me.org_id) {
        (None, _) => Relation::Platform,
        (Some(theirs), Some(mine)) if theirs == mine => Relation::OwnOrganisation,
        (Some(_), _) => Relation::OtherOrganisation,
    }
}

/// `Ok` when the table permits; another organisation's object answers 404, as if it did not
/// exist, and a refusal within reach 403.
pub fn require(user: &CurrentUser, action: Action, relation: Relation) -> Result<(), Refusal> {
    authorize(user.role(), action, relation)
}

impl FeatureError for Refusal {
    fn failure(&self) -> Failure {
        match self {
            Refusal::NotFound => Failure::NotFound,
            Refusal::Forbidden => Failure::Forbidden,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::Forbidden => "forbidden",
        }
    }
}
