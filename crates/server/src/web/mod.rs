//! The web plumbing every feature shares: sessions, API tokens and CSRF ([`auth`]), the
//! permission check ([`authz`]), the route registry that gates every route by its action
//! ([`routes`]), the one error shape ([`error`]), the JSON, path and query extractors ([`json`], [`extract`]), the page chrome
//! ([`pages`]), audit entries outside order steps ([`audit_trail`]), page upload forms and stored images
//! ([`upload`]) and the outbound HTTP client.
//! Nothing here knows a feature.

pub(crate) mod audit_trail;
pub mod auth;
pub(crate) mod authz;
pub(crate) mod blocking;
pub mod error;
pub(crate) mod extract;
pub(crate) mod flash;
pub(crate) mod http_client;
pub(crate) mod json;
pub(crate) mod pages;
pub mod routes;
pub(crate) mod upload;
