//! The one error type services and handlers return. It knows nothing of HTTP: how each
//! kind is shown (a page, JSON problem details under `/api/`, a redirect to sign in) is
//! `web::error_response`.

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("request refused: {0}")]
    Forbidden(&'static str),
    #[error("sign-in required")]
    SignInRequired,
    /// The browser's session ended (timeout): sign in again, then go back to this local
    /// path, if any.
    #[error("session ended")]
    SessionEnded(Option<crate::domain::LocalPath>),
    /// Like `SignInRequired`, for scripts: a 401 rather than a redirect to a form.
    #[error("not signed in")]
    NotSignedIn,
    /// The JSON API (`/api/v1`) wants a valid bearer token: missing, unknown, expired,
    /// revoked, or its creator no longer stands as an admin. A 401 with
    /// `WWW-Authenticate: Bearer`; the text says what to send.
    #[error("API token required: {0}")]
    BearerRequired(&'static str),
    /// Input that parsed but makes no sense (a filter, a JSON body): a 422 with the reason.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The request conflicts with what exists (an account with that address).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The user must set up a second factor before anything else (`require_second_factor`).
    #[error("second factor required")]
    SecondFactorRequired,
    #[error("link used or expired")]
    LinkExpired,
    #[error("too many requests")]
    TooManyRequests,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A field's text was refused by the input normaliser (`domain::text`): a 422 that
    /// says which field and why.
    #[error("invalid input: {0}")]
    BadText(#[from] crate::domain::BadText),
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Internal(err.into())
        }
    }
}
