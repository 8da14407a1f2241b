//! The body of every error answer: `{"error": {"code": "…", "message": "…"}}`.

use serde::{Deserialize, Serialize};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`snake_case`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}
