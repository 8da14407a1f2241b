//! Accounts: creating and reading the customers licenses belong to.

use super::Licensor;
use super::error::{Error, OrNotFound, Result};
use super::requests::{CreateAccountRequest, text_field};
use crate::store::accounts::{self, Account, AccountId, NewAccount};
use crate::store::audit;
use crate::store::{Page, PageRequest};
use license_core::Email;
use serde_json::json;

/// The longest account name.
pub const MAX_NAME_CHARS: usize = 200;

impl Licensor {
    /// Creates an account for `actor`.
    pub async fn create_account(
        &self,
        actor: &str,
        request: &CreateAccountRequest,
    ) -> Result<Account> {
        let name = text_field("name", &request.name, MAX_NAME_CHARS)?;
        let email = Email::parse(&request.email).map_err(|e| Error::field("email", e))?;
        let account_type = request
            .account_type
            .clone()
            .unwrap_or_else(|| "licensor".to_owned());
        if account_type.is_empty()
            || account_type.len() > 64
            || !account_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(Error::field(
                "type",
                "use 1 to 64 characters of a-z 0-9 _ -",
            ));
        }
        let account = NewAccount {
            id: AccountId(uuid::Uuid::new_v4()),
            name,
            email: email.to_string(),
            account_type,
            created_at: self.now(),
        };
        let entry = self.audit(
            actor,
            "account.create",
            json!({ "name": account.name, "email": account.email, "type": account.account_type }),
        );
        let mut tx = self.store().begin().await?;
        let created = accounts::insert(tx.conn(), &account).await?;
        audit::record(tx.conn(), &entry, &account.id.to_string()).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One account.
    pub async fn account(&self, id: AccountId) -> Result<Account> {
        accounts::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("account {id}"))
    }

    /// Accounts, newest first.
    pub async fn accounts(&self, page: &PageRequest) -> Result<Page<Account>> {
        Ok(accounts::list(self.store().conn(), page).await?)
    }
}
