//! From HTML forms to the service's requests and back: empty inputs are absent values, dates
//! become RFC 3339 times, and the service's "field `x`: …" errors go next to field `x`.

use super::views::ConsoleError;
use crate::service::Error;
use axum::http::StatusCode;
use std::collections::BTreeMap;

/// Errors by field name, shown next to the fields.
pub type FieldErrors = BTreeMap<String, String>;

/// The field a service error names, and its sentence, when it is a wrong field value.
pub fn field_error(error: &Error) -> Option<(String, String)> {
    let Error::Invalid(invalid) = error else {
        return None;
    };
    let rest = invalid.message.strip_prefix("field `")?;
    let (name, message) = rest.split_once("`: ")?;
    Some((name.to_owned(), message.to_owned()))
}

/// Sorts a service error: a wrong field goes into `errors` (the form is shown again), any
/// other error is the error page.
pub fn into_field(error: Error, errors: &mut FieldErrors) -> Result<(), ConsoleError> {
    match field_error(&error) {
        Some((name, message)) => {
            errors.insert(name, message);
            Ok(())
        }
        None => Err(error.into()),
    }
}

/// `None` for an empty input.
pub fn opt(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A date input (`YYYY-MM-DD`) as the start of that day in UTC; anything else as typed (the
/// service says what is wrong with it).
pub fn time(text: &str) -> String {
    let text = text.trim();
    let is_date = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_date {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    }
}

/// A whole number typed into `field`; a sentence in `errors` when it is not one.
pub fn number<T: std::str::FromStr>(
    field: &str,
    text: &str,
    errors: &mut FieldErrors,
) -> Option<T> {
    match text.trim().parse::<T>() {
        Ok(value) => Some(value),
        Err(_) => {
            errors.insert(
                field.to_owned(),
                format!("{:?} is not a whole number", text.trim()),
            );
            None
        }
    }
}

/// A comma- or space-separated list.
pub fn list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A UUID in the path; 404 naming `what` otherwise.
pub fn uuid_in_path(text: &str, what: &str) -> Result<uuid::Uuid, ConsoleError> {
    uuid::Uuid::parse_str(text).map_err(|_| {
        ConsoleError::new(
            StatusCode::NOT_FOUND,
            format!("{what} {text} does not exist"),
        )
    })
}

/// A checkbox: present and `on`.
pub fn checked(value: &Option<String>) -> bool {
    value.as_deref() == Some("on")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_find_their_field() {
        let error = Error::field("user_limit", "-1 is out of range");
        assert_eq!(
            field_error(&error),
            Some(("user_limit".to_owned(), "-1 is out of range".to_owned()))
        );
        assert_eq!(field_error(&Error::not_found("x")), None);
        assert_eq!(time("2027-01-31"), "2027-01-31T00:00:00Z");
        assert_eq!(time("2027-01-31T10:00:00Z"), "2027-01-31T10:00:00Z");
        assert_eq!(list("a, b  c"), ["a", "b", "c"]);
    }
}
