//! The CA as its own process (issue 11): `certdesk ca serve` answers the [`CaService`] over
//! gRPC on a Unix socket ([`server`]), and the web process asks it through [`RemoteCa`]
//! ([`client`]), holding no CA key, passphrase or key-management key.
//!
//! [`CaService`]: crate::CaService

mod client;
mod server;
mod wire;

pub use client::RemoteCa;
pub use server::{serve_unix, CaRpcService, ServeError};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/certdesk.ca.CaService.rs"));
}

#[cfg(test)]
mod tests;
