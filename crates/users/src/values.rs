use crate::FieldError;

/// A username: 1..=150 characters, letters, digits and `@ . + - _` only.
/// Two usernames that differ only in case are the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// The longest username accepted.
    pub const MAX_CHARS: usize = 150;

    /// Checks `raw` against the username rules.
    ///
    /// # Errors
    /// A [`FieldError`] on `field` saying what is wrong.
    pub fn parse(raw: &str, field: &str) -> Result<Username, FieldError> {
        if raw.is_empty() {
            return Err(FieldError::blank(field));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                "Ensure this field has no more than 150 characters.",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
        {
            return Err(FieldError::new(
                field,
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            ));
        }
        Ok(Username(raw.to_owned()))
    }

    /// The username as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// An email address, kept as written; compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address accepted.
    pub const MAX_CHARS: usize = 254;

    /// Checks that `raw` looks like one deliverable address.
    ///
    /// # Errors
    /// A [`FieldError`] on `field` when it does not.
    pub fn parse(raw: &str, field: &str) -> Result<Email, FieldError> {
        let raw = raw.trim();
        let invalid = || FieldError::new(field, "Enter a valid email address.");
        if raw.is_empty() {
            return Err(FieldError::blank(field));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(invalid());
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.contains('@')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c));
        if !(domain_ok && local_ok) {
            return Err(invalid());
        }
        Ok(Email(raw.to_owned()))
    }

    /// The address as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("john.doe+1@x_y-z", "username").is_ok());
        assert!(Username::parse("Élodie", "username").is_ok());
        assert!(Username::parse("", "username").is_err());
        assert!(Username::parse("has space", "username").is_err());
        assert!(Username::parse("semi;colon", "username").is_err());
        assert!(Username::parse(&"a".repeat(151), "username").is_err());
        assert_eq!(Username::parse("JohnDoe", "u").unwrap().key(), "johndoe");
    }

    #[test]
    fn emails() {
        assert!(Email::parse("john@example.com", "email").is_ok());
        assert_eq!(
            Email::parse(" John@Example.COM ", "email").unwrap().key(),
            "john@example.com"
        );
        for bad in [
            "",
            "john",
            "john@",
            "@example.com",
            "john@example",
            "a b@c.d",
            "j@e..com",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad} accepted");
        }
    }
}
