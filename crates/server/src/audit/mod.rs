//! The audit log from the web side: appending from request handlers, and the staff search
//! (page and API).

mod error;

pub(crate) use error::AuditError;

use crate::web::auth::CurrentUser;
use crate::web::authz::require;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::extract::Query;
use crate::web::pages::{render, Chrome, PageUser};
use crate::web::routes::Registry;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use certdesk_ca::trust::format_time;
use certdesk_domain::{Action, AuditAction, Relation};
use certdesk_store::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub(crate) fn register(registry: Registry) -> Registry {
    registry
        .get("/api/v1/audit", Action::SearchAudit, search_api)
        .get("/audit", Action::SearchAudit, search_page)
}

#[derive(Deserialize, Default)]
struct AuditSearch {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    actor: Option<i64>,
    /// Text, so that the empty field of the search form means "all".
    #[serde(default)]
    org_id: Option<String>,
    /// Only entries older than this sequence number (the next page).
    #[serde(default)]
    before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub sequence: i64,
    /// Beijing time.
    pub time: String,
    pub actor: String,
    pub org_id: Option<i64>,
    pub action: String,
    pub action_label: String,
    pub object: String,
    pub detail: String,
}

const PAGE: i64 = 50;

async fn search(
    state: &AppState,
    user: &CurrentUser,
    query: &AuditSearch,
) -> Result<Vec<AuditEntryView>, AuditError> {
    require(user, Action::SearchAudit, Relation::Platform)?;
    let action = match query.action.as_deref().filter(|a| !a.is_empty()) {
        Some(name) => Some(
            name.parse::<AuditAction>()
                .map_err(|e| AuditError::InvalidAction(e.to_string()))?,
        ),
        None => None,
    };
    let org_id = match query
        .org_id
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        Some(text) => Some(text.parse::<i64>().map_err(|_| AuditError::InvalidOrgId)?),
        None => None,
    };
    let entries = state
        .store
        .audit_events(&AuditQuery {
            action,
            actor: query.actor,
            org_id,
            since: None,
            until: None,
            limit: PAGE,
            before_sequence: query.before,
        })
        .await?;
    Ok(entries
        .into_iter()
        .map(|e| AuditEntryView {
            sequence: e.sequence,
            time: format_time(e.at),
            action_label: e
                .action()
                .map(|a| a.label_zh().to_string())
                .unwrap_or_else(|| e.action.clone()),
            actor: e.actor_label,
            org_id: e.org_id,
            action: e.action,
            object: e.object,
            detail: e.detail,
        })
        .collect())
}

/// Search the audit log, newest first, 50 at a time (staff only).
#[utoipa::path(get, path = "/api/v1/audit",
    params(("action" = Option<String>, Query), ("actor" = Option<i64>, Query), ("org_id" = Option<i64>, Query), ("before" = Option<i64>, Query, description = "只看序号小于此值的记录（翻页）")),
    responses((status = 200, body = [AuditEntryView]), (status = 403, body = ErrorBody)))]
async fn search_api(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<AuditSearch>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    Ok(Json(search(&state, &user, &query).await?))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditEntryView>,
    actions: Vec<(&'static str, &'static str)>,
    selected_action: String,
    org_filter: String,
    next_before: Option<i64>,
}

async fn search_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(query): Query<AuditSearch>,
) -> Response {
    match search(&state, &user, &query).await {
        Ok(entries) => {
            let next_before = (entries.len() as i64 == PAGE)
                .then(|| entries.last().map(|e| e.sequence))
                .flatten();
            render(
                &AuditPage {
                    chrome: Chrome::new(&user, "audit"),
                    entries,
                    actions: AuditAction::ALL
                        .iter()
                        .map(|a| (a.as_str(), a.label_zh()))
                        .collect(),
                    selected_action: query.action.clone().unwrap_or_default(),
                    org_filter: query.org_id.clone().unwrap_or_default(),
                    next_before,
                },
                StatusCode::OK,
            )
        }
        Err(err) => crate::web::pages::PageFailure::from(err).into_page(),
    }
}

/// This feature's part of the API description.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(search_api))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
