//! Types and rules with no I/O. Each type is parsed once at the edge and trusted after.

pub mod activity;
pub mod api_token;
pub mod app_password;
mod breach_fingerprint;
pub mod breached_passwords;
pub mod ids;
pub mod local_path;
pub mod lockout;
pub mod mail_setup;
pub mod password_policy;
#[cfg(test)]
mod properties;
pub mod role;
pub mod second_factor;
pub mod text;
pub mod username;

pub use app_password::{
    AppPasswordName, AppPasswordStatus, ExpiryChoice, GeneratedAppPassword, LookupId, Scope,
};
pub use ids::{AppPasswordId, PasskeyId, UserId};
pub use local_path::LocalPath;
pub use role::Role;
pub use text::{BadText, Name, Text};
pub use username::Username;
