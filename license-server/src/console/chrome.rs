//! The header of every signed-in page: who is signed in, the CSRF token of the sign-out form,
//! which sections and forms their role opens.

use super::auth::Signed;
use crate::service::roles::{Action, Role};

/// The header of every signed-in page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Who is signed in.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// The session's CSRF token, for every form of the page.
    pub csrf: String,
    /// Whether the desk's forms are shown.
    pub desk: bool,
    /// Whether the admin's forms are shown.
    pub admin: bool,
    /// Whether license tokens may be downloaded.
    pub tokens: bool,
    /// The section of the navigation to highlight.
    pub section: &'static str,
}

impl Chrome {
    /// The header for `user` on a page of `section`.
    pub fn new(user: &Signed, section: &'static str) -> Self {
        Chrome {
            user: user.principal.name.clone(),
            role: user.principal.role,
            csrf: user.csrf.clone(),
            desk: user.may(Action::Desk),
            admin: user.may(Action::ManageAccess),
            tokens: user.may(Action::ReadToken),
            section,
        }
    }

    /// `aria-current` for the navigation link of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}
