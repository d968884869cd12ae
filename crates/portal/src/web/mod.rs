//! The web layer (axum). Handlers parse, call the domain, render; each feature keeps its
//! handlers and its page structs together:
//! - `sign_in`: the password, the second step, resets, recovery codes, invitations, rollout;
//! - `profile`: My Profile, Self-Service (enrolment, methods, devices), activity, feedback;
//! - `admin`: the admin area; `api`: the JSON API; `oidc`: OpenID Connect; `info`: static pages;
//! - `push`: the NHSmal Authenticator's API (pairing, requests, the event stream, answers);
//! - `http`: the plumbing every feature uses (extractors, errors, security headers, assets);
//! - `app`: assembly (state, router, background jobs, serving).

mod admin;
mod api;
mod app;
mod help;
mod http;
mod info;
mod oidc;
mod profile;
mod push;
mod sign_in;

#[cfg(feature = "fixtures")]
pub use app::with_layers;
pub use app::{App, AppState, router, serve};
pub use http::error::AppError;
