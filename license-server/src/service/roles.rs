//! Who may do what: the three roles of console users and admin API tokens, and the one table
//! that says which role each action needs. The API's extractors and the console's handlers
//! both ask [`Role::may`]; neither holds a rule of its own.

use std::fmt;
use std::str::FromStr;

/// A person's or a token's role. Each role can do everything the roles before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except license tokens (the signed `license.jwt`).
    Viewer,
    /// The license desk: accounts, issuing, reissuing, trials, evaluation enrollments,
    /// resending mail, retrying the outbox; reads license tokens.
    Desk,
    /// Everything: revoking licenses, console users, admin API tokens.
    Admin,
}

/// What a request wants to do, as far as roles are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read lists, records, the audit log, the dashboard.
    Read,
    /// Read a license's signed token (download `license.jwt`).
    ReadToken,
    /// Accounts, issue, reissue, trials, evaluations, resend, outbox retry.
    Desk,
    /// Revoke licenses.
    Revoke,
    /// Console users, admin API tokens, webhooks; on the API also revoking (one extractor).
    ManageAccess,
}

impl Action {
    /// The least role that may do this.
    pub fn needs(self) -> Role {
        match self {
            Action::Read => Role::Viewer,
            Action::ReadToken | Action::Desk => Role::Desk,
            Action::Revoke | Action::ManageAccess => Role::Admin,
        }
    }

    /// What it is, for the sentence of a refusal.
    fn describe(self) -> &'static str {
        match self {
            Action::Read => "reading",
            Action::ReadToken => "reading a license token",
            Action::Desk => "changing accounts, licenses, trials, evaluations and mail",
            Action::Revoke => "revoking a license",
            Action::ManageAccess => {
                "revoking licenses and managing webhooks, console users and admin tokens"
            }
        }
    }
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Desk, Role::Admin];

    /// Whether this role may do `action`.
    pub fn may(self, action: Action) -> bool {
        self >= action.needs()
    }

    /// `Ok` when this role may do `action`, else a [`Forbidden`] naming the role needed (the
    /// service's `Error::Forbidden`, through `?`).
    pub fn require(self, action: Action) -> Result<(), Forbidden> {
        if self.may(action) {
            Ok(())
        } else {
            Err(Forbidden {
                role: self,
                needs: action.needs(),
                action: action.describe(),
            })
        }
    }

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Desk => "desk",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of `viewer`, `desk`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use viewer, desk or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> std::result::Result<Self, UnknownRole> {
        match text.trim() {
            "viewer" => Ok(Role::Viewer),
            "desk" => Ok(Role::Desk),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Who is asking: a console user or an admin token, by name (the audit log's actor), with
/// the role it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The person's or the token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Principal {
    /// `Ok` when this principal may do `action`, else a [`Forbidden`].
    pub fn require(&self, action: Action) -> Result<(), Forbidden> {
        self.role.require(action)
    }

    /// Whether this principal may do `action`.
    pub fn may(&self, action: Action) -> bool {
        self.role.may(action)
    }
}

/// A refusal for want of a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} needs the {needs} role; the {role} role may not (ask an admin for it)")]
pub struct Forbidden {
    /// The role the caller has.
    pub role: Role,
    /// The role the action needs.
    pub needs: Role,
    /// What was refused.
    pub action: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_does_what_the_roles_below_it_do_and_no_more() {
        assert!(Role::Viewer.may(Action::Read));
        assert!(!Role::Viewer.may(Action::ReadToken));
        assert!(!Role::Viewer.may(Action::Desk));
        assert!(Role::Desk.may(Action::Desk) && Role::Desk.may(Action::ReadToken));
        assert!(!Role::Desk.may(Action::Revoke) && !Role::Desk.may(Action::ManageAccess));
        assert!(Role::Admin.may(Action::Revoke) && Role::Admin.may(Action::ManageAccess));
        let refused = Role::Desk.require(Action::Revoke).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "revoking a license needs the admin role; the desk role may not (ask an admin for it)"
        );
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
