//! Every route is registered here with the [`Action`] it performs, so that the permission
//! table of `certdesk-domain` guards it before its handler runs, and so that the authorization
//! test can walk every route. A route cannot be added without an action.
//!
//! The gate checks that the actor's role has the action at all (401 without an account, 403
//! without a grant). Whose object it is — own account, own organisation, another one — is
//! decided by the handler once it has loaded the object, with [`crate::web::authz::require`].

use crate::web::auth::CurrentUser;
use crate::web::error::ApiError;
use crate::AppState;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum::Router;
use certdesk_domain::permissions::{access, reach, Access, Action};

/// One route: method, path (axum syntax) and the action it performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub action: Action,
}

pub(crate) struct Registry {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            router: Router::new(),
            specs: Vec::new(),
        }
    }

    pub(crate) fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        action: Action,
        handler: H,
    ) -> Self {
        self.add(Method::GET, path, action, axum::routing::get(handler))
    }

    pub(crate) fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        action: Action,
        handler: H,
    ) -> Self {
        self.add(Method::POST, path, action, axum::routing::post(handler))
    }

    pub(crate) fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        action: Action,
        handler: H,
    ) -> Self {
        self.add(Method::PUT, path, action, axum::routing::put(handler))
    }

    pub(crate) fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        action: Action,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, path, action, axum::routing::delete(handler))
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        action: Action,
        route: MethodRouter<AppState>,
    ) -> Self {
        let gated = route.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| gate(action, request, next),
        ));
        self.router = self.router.route(path, gated);
        self.specs.push(RouteSpec {
            method,
            path,
            action,
        });
        self
    }

    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

pub(crate) fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

async fn gate(action: Action, request: Request, next: Next) -> Response {
    let Access::Granted(_) = access(action) else {
        return next.run(request).await;
    };
    let api = is_api(request.uri().path());
    let Some(user) = request.extensions().get::<CurrentUser>() else {
        return if api {
            ApiError::unauthenticated().into_response()
        } else {
            Redirect::to("/login").into_response()
        };
    };
    // A password an admin reset is replaced before anything else is done with the account.
    if user.account().must_change_password
        && !certdesk_domain::permissions::allowed_before_password_change(action)
    {
        return if api {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "管理员已重置您的密码，请先修改密码",
            )
            .into_response()
        } else {
            Redirect::to("/account").into_response()
        };
    }
    if reach(user.role(), action).is_none() {
        tracing::info!(
            account = user.account().id,
            ?action,
            "refused by the permission table"
        );
        return forbidden(api);
    }
    next.run(request).await
}

pub(crate) fn forbidden(api: bool) -> Response {
    if api {
        ApiError::forbidden().into_response()
    } else {
        (
            StatusCode::FORBIDDEN,
            axum::response::Html(crate::web::pages::forbidden_page()),
        )
            .into_response()
    }
}
