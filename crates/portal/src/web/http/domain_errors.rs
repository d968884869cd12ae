//! Each domain error becomes an `AppError` here, once (DESIGN.md §3): a storage failure is a 503
//! or a 500, "not allowed" a 403, a request the person can fix a 400 with the domain's words.
//! Handlers keep only the arms that re-render a form with the message, or that need the time
//! (a lock's `Retry-After`); everything else goes through `?` or `.into()`.

use domain::admin::AdminError;
use domain::feedback::FeedbackError;
use domain::import::ImportError;
use domain::invitations::InvitationError;
use domain::mfa::MfaError;
use domain::monitoring::NotMeError;
use domain::oidc::clients::ClientError;
use domain::password_change::PasswordChangeError;
use domain::policy::PolicyError;
use domain::recovery::ResetError;
use domain::risk_review::RiskReviewError;
use domain::signin::SignInError;

use super::error::AppError;

/// The errors whose other variants a handler has already answered on its form: what reaches
/// here is a fault (500), or the store's own (503 when it is unreachable).
macro_rules! faults_only {
    ($($error:ident),* $(,)?) => {$(
        impl From<$error> for AppError {
            fn from(e: $error) -> Self {
                match e {
                    $error::Storage(s) => s.into(),
                    other => AppError::Internal(other.to_string()),
                }
            }
        }
    )*};
}

// A macro rather than eight copies: the mapping is the same for each, and a new error type of
// this kind is one more name in the list.
faults_only!(
    MfaError,
    SignInError,
    InvitationError,
    ResetError,
    PolicyError,
    FeedbackError,
    NotMeError,
    ClientError,
    ImportError,
    PasswordChangeError,
);

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        match e {
            e @ AdminError::Denied => AppError::Forbidden(e.to_string()),
            e @ (AdminError::BadReason | AdminError::BadLifetime) => {
                AppError::BadRequest(e.to_string())
            }
            AdminError::Storage(s) => s.into(),
        }
    }
}

impl From<RiskReviewError> for AppError {
    fn from(e: RiskReviewError) -> Self {
        match e {
            RiskReviewError::NotFlagged => AppError::NotFound,
            e @ (RiskReviewError::AlreadyCompromised | RiskReviewError::OwnAccount) => {
                AppError::Forbidden(e.to_string())
            }
            RiskReviewError::Admin(e) => e.into(),
            RiskReviewError::Storage(e) => e.into(),
        }
    }
}
