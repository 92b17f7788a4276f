use std::fmt;

use crate::{FieldError, FieldProblem};

/// A new password that passed the policy: 8..=128 characters, not a common
/// password, not too similar to the account's own username, names or email.
///
/// Its `Debug` output never shows the password.
#[derive(Clone)]
pub struct Password(String);

/// An account attribute a password must not resemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttribute {
    /// The username.
    Username,
    /// The given name.
    FirstName,
    /// The family name.
    LastName,
    /// The email address.
    Email,
}

impl UserAttribute {
    /// The attribute in words, as error messages name it.
    pub fn verbose_name(self) -> &'static str {
        match self {
            UserAttribute::Username => "username",
            UserAttribute::FirstName => "first name",
            UserAttribute::LastName => "last name",
            UserAttribute::Email => "email address",
        }
    }

    /// The attribute's field name (`username`, `email`, `first_name`,
    /// `last_name`), as a rule's parameter names it.
    pub fn field(self) -> &'static str {
        match self {
            UserAttribute::Username => "username",
            UserAttribute::FirstName => "first_name",
            UserAttribute::LastName => "last_name",
            UserAttribute::Email => "email",
        }
    }
}

/// A rule of the password policy that a password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer than [`Password::MIN_CHARS`] characters.
    TooShort,
    /// More than [`Password::MAX_CHARS`] characters.
    TooLong,
    /// Too similar to one of the account's own attributes.
    TooSimilar(UserAttribute),
    /// Among the first guesses an attacker would try.
    TooCommon,
    /// Digits only.
    EntirelyNumeric,
}

impl PasswordProblem {
    /// The rule's machine code (`password_too_short`, ...).
    pub fn code(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "password_too_short",
            PasswordProblem::TooLong => "password_too_long",
            PasswordProblem::TooSimilar(_) => "password_too_similar",
            PasswordProblem::TooCommon => "password_too_common",
            PasswordProblem::EntirelyNumeric => "password_entirely_numeric",
        }
    }

    /// The problem on `field`, coded, with its parameters (`min`, `max`,
    /// `attribute`) and Django's words as the default message.
    pub fn on(self, field: &str) -> FieldError {
        let error = |message: String| {
            FieldError::with_problem(field, FieldProblem::WeakPassword, message).coded(self.code())
        };
        match self {
            PasswordProblem::TooShort => error(format!(
                "This password is too short. It must contain at least {} characters.",
                Password::MIN_CHARS
            ))
            .param("min", Password::MIN_CHARS),
            PasswordProblem::TooLong => error(format!(
                "Ensure this field has no more than {} characters.",
                Password::MAX_CHARS
            ))
            .param("max", Password::MAX_CHARS),
            PasswordProblem::TooSimilar(attribute) => error(format!(
                "The password is too similar to the {}.",
                attribute.verbose_name()
            ))
            .param("attribute", attribute.field()),
            PasswordProblem::TooCommon => error("This password is too common.".to_owned()),
            PasswordProblem::EntirelyNumeric => {
                error("This password is entirely numeric.".to_owned())
            }
        }
    }
}

impl Password {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 128;
    /// Passwords that zxcvbn expects to find within 10^4.5 (about 31,600)
    /// guesses are refused as common: the size of Django's common-password list.
    const MIN_GUESSES_LOG10: f64 = 4.5;

    /// Whether zxcvbn finds `raw` within [`Password::MIN_GUESSES_LOG10`].
    fn is_guessable(raw: &str, user_inputs: &[&str]) -> bool {
        zxcvbn::zxcvbn(raw, user_inputs).guesses_log10() < Self::MIN_GUESSES_LOG10
    }

    /// Checks `raw` against the policy. `attributes` are the account's own
    /// words (username, email, names) that the password must not resemble.
    ///
    /// # Errors
    /// Every rule `raw` breaks ([`PasswordProblem::on`] makes each a field error).
    pub fn new(
        raw: &str,
        attributes: &[(UserAttribute, &str)],
    ) -> Result<Password, Vec<PasswordProblem>> {
        let length = raw.chars().count();
        if length < Self::MIN_CHARS {
            return Err(vec![PasswordProblem::TooShort]);
        }
        if length > Self::MAX_CHARS {
            return Err(vec![PasswordProblem::TooLong]);
        }
        let mut problems = Vec::new();
        let similar = most_similar_attribute(raw, attributes)
            .or_else(|| attribute_with_weak_rest(raw, attributes));
        if let Some(attribute) = similar {
            problems.push(PasswordProblem::TooSimilar(attribute));
        }
        // zxcvbn weighs the user's own words, whole and in parts, as the
        // first words an attacker would try.
        let inputs: Vec<String> = attributes
            .iter()
            .flat_map(|(_, value)| words_of(value))
            .collect();
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        if problems.is_empty() && Self::is_guessable(raw, &inputs) {
            problems.push(PasswordProblem::TooCommon);
        }
        if raw.chars().all(|c| c.is_ascii_digit()) {
            problems.push(PasswordProblem::EntirelyNumeric);
        }
        if problems.is_empty() {
            Ok(Password(raw.to_owned()))
        } else {
            Err(problems)
        }
    }

    /// A password an earlier system accepted, checked at login against its
    /// imported hash: it is re-hashed as it is, whatever today's policy says.
    pub(crate) fn accepted(raw: &str) -> Password {
        Password(raw.to_owned())
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How similar a password may be to an attribute, or one of its words.
const MAX_SIMILARITY: f64 = 0.7;

/// The first attribute (in Django's order: username, names, email) that the
/// password is too similar to, judged as Django's
/// `UserAttributeSimilarityValidator` does: the lowercased value, whole and
/// split on non-word characters, against the lowercased password, by the
/// share of characters they have in common (`SequenceMatcher.quick_ratio`).
fn most_similar_attribute(
    password: &str,
    attributes: &[(UserAttribute, &str)],
) -> Option<UserAttribute> {
    let password = password.to_lowercase();
    let order = [
        UserAttribute::Username,
        UserAttribute::FirstName,
        UserAttribute::LastName,
        UserAttribute::Email,
    ];
    order.into_iter().find(|wanted| {
        attributes
            .iter()
            .filter(|(attribute, _)| attribute == wanted)
            .flat_map(|(_, value)| words_of(value))
            .any(|word| {
                !exceeds_maximum_length_ratio(&password, &word)
                    && quick_ratio(&password, &word) >= MAX_SIMILARITY
            })
    })
}

/// The first attribute one of whose words (three characters or more; of an
/// email, its local part's: `com` is nobody's) the password holds, with a
/// rest that is guessable on its own: `bob12345!` for `bob`. A word of the
/// user's is the first guess of an attacker who knows them, so it adds
/// nothing to what is left.
fn attribute_with_weak_rest(
    password: &str,
    attributes: &[(UserAttribute, &str)],
) -> Option<UserAttribute> {
    let password = password.to_lowercase();
    attributes.iter().find_map(|(attribute, value)| {
        let personal = match attribute {
            UserAttribute::Email => value.rsplit_once('@').map_or(*value, |(local, _)| local),
            _ => value,
        };
        words_of(personal)
            .iter()
            .filter(|word| word.chars().count() >= 3 && password.contains(word.as_str()))
            .any(|word| Password::is_guessable(&password.replace(word.as_str(), ""), &[]))
            .then_some(*attribute)
    })
}

/// A lowercased value's words (split on runs of non-word characters), then
/// the whole value; nothing for an empty value.
fn words_of(value: &str) -> Vec<String> {
    let value = value.to_lowercase();
    if value.is_empty() {
        return Vec::new();
    }
    let mut words: Vec<String> = value
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(str::to_owned)
        .collect();
    words.push(value);
    words
}

/// Django's shortcut: a value much shorter than the password cannot reach
/// the ratio (with one character in common out of `n`, it is about `2 / n`).
fn exceeds_maximum_length_ratio(password: &str, value: &str) -> bool {
    let password_len = password.chars().count() as f64;
    let value_len = value.chars().count() as f64;
    password_len >= 10.0 * value_len && value_len < MAX_SIMILARITY / 2.0 * password_len
}

/// `2 * M / T`: `M` the characters `a` and `b` have in common, counted with
/// multiplicity, `T` their lengths together.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut left: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in b.chars() {
        *left.entry(c).or_default() += 1;
    }
    let mut matches = 0;
    for c in a.chars() {
        if let Some(n) = left.get_mut(&c).filter(|n| **n > 0) {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(
            Password::new("Zq7!vR2", &[]).unwrap_err(),
            [PasswordProblem::TooShort]
        );
        assert!(Password::new("Zq7!vR2#", &[]).is_ok());
        assert!(Password::new(&"Zq7!vR2#".repeat(16), &[]).is_ok());
        assert_eq!(
            Password::new(&format!("{}x", "Zq7!vR2#".repeat(16)), &[]).unwrap_err(),
            [PasswordProblem::TooLong]
        );
    }

    /// `(code, params, message)` of the problem as a field error on `field`.
    fn coded(problem: PasswordProblem) -> (&'static str, Vec<(&'static str, String)>, String) {
        let error = problem.on("new_password");
        assert_eq!(error.field, "new_password");
        assert_eq!(error.problem, FieldProblem::WeakPassword);
        (error.code, error.params, error.message)
    }

    #[test]
    fn each_rule_has_its_code_parameters_and_djangos_words() {
        let param = |name, value: &str| vec![(name, value.to_owned())];
        assert_eq!(
            coded(PasswordProblem::TooShort),
            (
                "password_too_short",
                param("min", "8"),
                "This password is too short. It must contain at least 8 characters.".into()
            )
        );
        assert_eq!(
            coded(PasswordProblem::TooLong),
            (
                "password_too_long",
                param("max", "128"),
                "Ensure this field has no more than 128 characters.".into()
            )
        );
        assert_eq!(
            coded(PasswordProblem::TooCommon),
            (
                "password_too_common",
                vec![],
                "This password is too common.".into()
            )
        );
        assert_eq!(
            coded(PasswordProblem::EntirelyNumeric),
            (
                "password_entirely_numeric",
                vec![],
                "This password is entirely numeric.".into()
            )
        );
        for (attribute, name, words) in [
            (UserAttribute::Username, "username", "username"),
            (UserAttribute::Email, "email", "email address"),
            (UserAttribute::FirstName, "first_name", "first name"),
            (UserAttribute::LastName, "last_name", "last name"),
        ] {
            assert_eq!(
                coded(PasswordProblem::TooSimilar(attribute)),
                (
                    "password_too_similar",
                    param("attribute", name),
                    format!("The password is too similar to the {words}.")
                )
            );
        }
    }

    #[test]
    fn a_numeric_password_breaks_every_rule_it_breaks() {
        assert_eq!(
            Password::new("12345678", &[]).unwrap_err(),
            [PasswordProblem::TooCommon, PasswordProblem::EntirelyNumeric]
        );
        assert_eq!(
            Password::new("20240611", &account("20240611", "")).unwrap_err(),
            [
                PasswordProblem::TooSimilar(UserAttribute::Username),
                PasswordProblem::EntirelyNumeric
            ]
        );
    }

    #[test]
    fn common_passwords_are_refused() {
        for common in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
            "sunshine1",
            "P@ssw0rd!",
        ] {
            assert!(Password::new(common, &[]).is_err(), "{common} accepted");
        }
    }

    #[test]
    fn ordinary_passphrases_pass() {
        for fine in [
            "testPassword1",
            "mot_de_passe",
            "Summer2024!",
            "correct horse battery",
        ] {
            assert!(Password::new(fine, &[]).is_ok(), "{fine} refused");
        }
    }

    fn account<'a>(username: &'a str, email: &'a str) -> [(UserAttribute, &'a str); 2] {
        [
            (UserAttribute::Username, username),
            (UserAttribute::Email, email),
        ]
    }

    #[test]
    fn passwords_built_from_the_username_are_refused() {
        let problems = Password::new("marguerite2024", &account("marguerite", "")).unwrap_err();
        assert_eq!(
            problems,
            [PasswordProblem::TooSimilar(UserAttribute::Username)]
        );
        assert!(Password::new("Xk92!dumbo-lamp", &account("", "jdoe@example.com")).is_ok());
    }

    #[test]
    fn the_message_names_the_attribute_that_matched() {
        let problems =
            Password::new("jdoe@example", &account("kim", "jdoe@example.com")).unwrap_err();
        assert_eq!(
            problems,
            [PasswordProblem::TooSimilar(UserAttribute::Email)]
        );
        let names = [
            (UserAttribute::FirstName, "Marguerite"),
            (UserAttribute::LastName, "Yourcenar"),
        ];
        let problems = Password::new("Yourcenar!", &names).unwrap_err();
        assert_eq!(
            problems,
            [PasswordProblem::TooSimilar(UserAttribute::LastName)]
        );
    }

    #[test]
    fn a_few_shared_letters_are_not_similarity() {
        assert!(Password::new("kabob-stew-2024!", &account("bob", "")).is_ok());
        assert!(Password::new(
            "perf-123-correct-horse-battery",
            &account("perf", "perf@example.com")
        )
        .is_ok());
    }

    #[test]
    fn the_users_own_words_weigh_as_nothing() {
        for weak in ["bob12345!", "Bob2024!", "12345bob"] {
            assert_eq!(
                Password::new(weak, &account("bob", "")).unwrap_err(),
                [PasswordProblem::TooSimilar(UserAttribute::Username)],
                "{weak}"
            );
        }
        assert_eq!(
            Password::new("perf123456", &account("kim", "perf@example.com")).unwrap_err(),
            [PasswordProblem::TooSimilar(UserAttribute::Email)]
        );
        // Strong without the name: accepted.
        assert!(Password::new("bob-Xk92!dumbo-lamp", &account("bob", "")).is_ok());
        // An email's domain is nobody's own word.
        assert!(Password::new("comfy123", &account("kim", "kim@example.com")).is_ok());
    }

    #[test]
    fn quick_ratio_is_pythons() {
        // difflib.SequenceMatcher(a=..., b=...).quick_ratio()
        assert!((quick_ratio("kabob-stew-2024!", "bob") - 6.0 / 19.0).abs() < 1e-9);
        assert!((quick_ratio("abcd", "bcde") - 0.75).abs() < 1e-9);
        assert_eq!(quick_ratio("", ""), 1.0);
        assert!(exceeds_maximum_length_ratio(&"x".repeat(40), "ab"));
        assert!(!exceeds_maximum_length_ratio(&"x".repeat(16), "bob"));
    }

    #[test]
    fn debug_hides_the_password() {
        let password = Password::new("Zq7!vR2#kL", &[]).unwrap();
        assert!(!format!("{password:?}").contains("Zq7"));
    }
}
