use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript};
use validator::ValidateEmail;

use crate::FieldError;

/// The version of [`identity_key`]'s rule. A store that keeps keys computes
/// them again when the version it last used differs from this one.
pub const IDENTITY_KEY_VERSION: i32 = 2;

/// The form in which two usernames, or two email addresses, are the same:
/// NFKC (full-width, superscript and other compatibility forms become their
/// plain letters), then full Unicode case folding (`ß` and `ss`, `Σ`, `ς` and
/// `σ` are one), then NFKC again, since folding can undo it. So `ｒｏｏｔ`,
/// `ᴿᴼᴼᵀ` and `ROOT` all have the key `root`.
///
/// Case folding rather than lowercasing, because lowercasing keeps `straße`
/// and `strasse` apart, which a reader does not. An internationalized domain
/// after the last `@` spelt in ASCII (`xn--bcher-kva.example`) is keyed as
/// it reads (`bücher.example`): the same mailbox, however it is typed.
pub fn identity_key(raw: &str) -> String {
    let compatible: String = raw.trim().nfkc().collect();
    let key = folded(&compatible);
    match key.rsplit_once('@') {
        Some((local, domain)) if domain.split('.').any(|label| label.starts_with("xn--")) => {
            match idna::domain_to_unicode(domain) {
                (unicode, Ok(())) => format!("{local}@{}", folded(&unicode)),
                _ => key,
            }
        }
        _ => key,
    }
}

fn folded(text: &str) -> String {
    caseless::default_case_fold_str(text).nfkc().collect()
}

/// A username: 1..=150 characters, letters, digits and `@ . + - _` only,
/// letters of one script (no Latin mixed with Cyrillic, say) that are
/// fit for identifiers (no invisible Hangul fillers, no `ɑ` standing for
/// `a`). Two usernames with the same [`identity_key`] are the same account.
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
            return Err(FieldError::max_length(field, Self::MAX_CHARS));
        }
        // Checked in the compatibility form too, which is what the key is made of.
        let compatible: String = raw.nfkc().collect();
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_');
        // Full-width letters are not identifier characters, their NFKC forms are.
        let identifier = |c: char| identifier_letter(c) || matches!(c, '@' | '.' | '+');
        if !raw.chars().all(allowed) || !compatible.chars().all(|c| allowed(c) && identifier(c)) {
            return Err(FieldError::new(
                field,
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            )
            .coded("invalid_username"));
        }
        if !compatible.is_single_script() {
            return Err(FieldError::new(
                field,
                "Enter a valid username. Its letters may not mix scripts (such as Latin and Cyrillic).",
            )
            .coded("mixed_scripts"));
        }
        Ok(Username(raw.to_owned()))
    }

    /// The username as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that uniqueness is decided on: [`identity_key`].
    pub fn key(&self) -> String {
        identity_key(&self.0)
    }
}

/// An email address that mail can be delivered to, kept in its NFKC form
/// (`root@ｅxample.com` is `root@example.com`); two addresses with the same
/// [`identity_key`] are the same.
///
/// The local part is a dot-atom of ASCII characters (no quoted strings, no
/// leading, trailing or doubled dots, no MIME encoded words `=?...?=`); the
/// domain has at least two labels, none starting or ending with `-`, and may
/// be an internationalized one, but each label is in one script, of letters
/// UTS 39 allows in identifiers (no invisible soft hyphen that IDNA drops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address accepted.
    pub const MAX_CHARS: usize = 254;

    /// Checks that `raw` is one deliverable address.
    ///
    /// # Errors
    /// A [`FieldError`] on `field` when it is not.
    pub fn parse(raw: &str, field: &str) -> Result<Email, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FieldError::blank(field));
        }
        let address: String = raw.nfkc().collect();
        if address.chars().count() > Self::MAX_CHARS || !is_deliverable(&address) {
            return Err(
                FieldError::new(field, "Enter a valid email address.").coded("invalid_email")
            );
        }
        Ok(Email(address))
    }

    /// The address in its NFKC form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that uniqueness is decided on: [`identity_key`].
    pub fn key(&self) -> String {
        identity_key(&self.0)
    }
}

/// Whether UTS 39 types `c` as fit for identifiers in some living use:
/// recommended, or of a script in limited or excluded use (Cherokee,
/// Canadian syllabics, Tifinagh, Mongolian...), or uncommon. Refused:
/// invisible and ignorable characters (the Hangul fillers, the soft
/// hyphen), technical letters (`ɑ`), obsolete, deprecated and non-NFKC ones.
fn identifier_letter(c: char) -> bool {
    use unicode_security::general_security_profile::IdentifierType::*;
    matches!(
        c.identifier_type(),
        Some(Recommended | Inclusion | Limited_Use | Exclusion | Uncommon_Use)
    )
}

/// The HTML5 rules (`validator`), and what they let through that an SMTP
/// envelope or a `To:` header cannot carry as written.
fn is_deliverable(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let dot_atom =
        |part: &str| !part.starts_with('.') && !part.ends_with('.') && !part.contains("..");
    address.validate_email()
        && dot_atom(local)
        && !address.contains("=?")
        // A name, not an address literal, and with a top-level domain.
        && domain.contains('.')
        && !domain.starts_with('[')
        && domain.split('.').all(|label| {
            !label.starts_with('-')
                && !label.ends_with('-')
                && label.is_single_script()
                && label.chars().all(|c| c.is_ascii() || identifier_letter(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("john.doe+1@x_y-z", "username").is_ok());
        assert!(Username::parse("Élodie", "username").is_ok());
        assert!(Username::parse("Дмитрий_1", "username").is_ok());
        assert!(Username::parse("山田たろう", "username").is_ok());
        // Scripts of limited use are living scripts.
        for living in ["ᏣᎳᎩ", "ᐃᓄᒃᑎᑐᑦ", "ⵜⴰⵎⴰⵣⵉⵖⵜ", "ꆈꌠ", "ᠮᠣᠩᠭᠣᠯ"]
        {
            assert!(Username::parse(living, "username").is_ok(), "{living}");
        }
        assert!(Username::parse("", "username").is_err());
        assert!(Username::parse("has space", "username").is_err());
        assert!(Username::parse("semi;colon", "username").is_err());
        assert!(Username::parse(&"a".repeat(151), "username").is_err());
        assert_eq!(Username::parse("JohnDoe", "u").unwrap().key(), "johndoe");
    }

    /// `(field, code, params)` of a refused value.
    fn coded(error: FieldError) -> (String, &'static str, Vec<(&'static str, String)>) {
        (error.field, error.code, error.params)
    }

    #[test]
    fn username_problems_are_coded() {
        let field = |code| ("new_username".to_owned(), code, vec![]);
        let parse = |raw: &str| coded(Username::parse(raw, "new_username").unwrap_err());
        assert_eq!(parse(""), field("blank"));
        assert_eq!(parse("semi;colon"), field("invalid_username"));
        assert_eq!(parse("r\u{43e}\u{43e}t"), field("mixed_scripts"));
        let too_long = Username::parse(&"a".repeat(151), "username").unwrap_err();
        assert_eq!(
            too_long.message,
            "Ensure this field has no more than 150 characters."
        );
        assert_eq!(
            coded(too_long),
            (
                "username".to_owned(),
                "max_length",
                vec![("max", "150".to_owned())]
            )
        );
    }

    #[test]
    fn email_problems_are_coded() {
        let parse = |raw: &str| coded(Email::parse(raw, "email").unwrap_err());
        assert_eq!(parse("  "), ("email".to_owned(), "blank", vec![]));
        for bad in [
            "a..b@x.com",
            "nobody",
            &format!("{}@x.com", "a".repeat(250)),
        ] {
            assert_eq!(
                parse(bad),
                ("email".to_owned(), "invalid_email", vec![]),
                "{bad}"
            );
        }
    }

    #[test]
    fn look_alikes_share_a_key() {
        for look_alike in ["ｒｏｏｔ", "ᴿᴼᴼᵀ", "ＲＯＯＴ", "Root", "ROOT"] {
            let name = Username::parse(look_alike, "username").unwrap();
            assert_eq!(name.key(), "root", "{look_alike}");
        }
        assert_eq!(identity_key("ａｄｍｉｎ"), "admin");
        assert_eq!(identity_key("Straße"), identity_key("STRASSE"));
        assert_eq!(
            identity_key("User@XN--Bcher-KVA.Example"),
            identity_key("user@Bücher.example")
        );
        assert_eq!(identity_key("u@xn--bcher-kva.example"), "u@bücher.example");
        // Not punycode: kept as it is.
        assert_eq!(identity_key("u@xn--.example"), "u@xn--.example");
        assert_eq!(identity_key("ΣΊΣΥΦΟΣ"), identity_key("σίσυφος"));
        assert_eq!(identity_key(&identity_key("ﬃ")), identity_key("ﬃ"));
    }

    #[test]
    fn mixed_scripts_are_refused() {
        // Latin r and t with Cyrillic о; Latin with Greek ο.
        for mixed in ["r\u{43e}\u{43e}t", "r\u{3bf}\u{3bf}t", "\u{430}dmin"] {
            let error = Username::parse(mixed, "username").unwrap_err();
            assert!(error.message.contains("mix scripts"), "{mixed}");
        }
    }

    #[test]
    fn compatibility_forms_that_break_the_rules_are_refused() {
        // An Arabic ligature whose compatibility form holds spaces.
        assert!(Username::parse("\u{fdfa}", "username").is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("john@example.com", "email").is_ok());
        assert_eq!(
            Email::parse(" John@Example.COM ", "email").unwrap().key(),
            "john@example.com"
        );
        let full_width = Email::parse("root@ｅxample.com", "email").unwrap();
        assert_eq!(full_width.as_str(), "root@example.com");
    }

    /// The shared list of addresses: `+ address` is accepted, `- address` refused.
    fn listed_addresses() -> impl Iterator<Item = (bool, &'static str)> {
        include_str!("../tests/data/addresses.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| (line.starts_with('+'), &line[2..]))
    }

    #[test]
    fn listed_addresses_are_judged_as_listed() {
        for (good, address) in listed_addresses() {
            assert_eq!(Email::parse(address, "email").is_ok(), good, "{address}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        for bad in [
            "",
            "a\u{7}b@x.com",
            "a\r\nBcc: x@y.com@x.com",
            "a\tb@x.com",
            "a@x\u{0}.com",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad:?} accepted");
        }
    }
}
