use std::fmt;

/// A new password that passed the policy: 8..=128 characters, not a common
/// password, not built from the account's own username or email.
///
/// Its `Debug` output never shows the password.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 128;
    /// Passwords that zxcvbn expects to find within 10^4.5 (about 31,600)
    /// guesses are refused as common: the size of Django's common-password list.
    const MIN_GUESSES_LOG10: f64 = 4.5;

    /// Checks `raw` against the policy. `user_inputs` are the account's own
    /// words (username, email, names) that the password must not be built from.
    ///
    /// # Errors
    /// Every rule `raw` breaks, as messages a client can show.
    pub fn new(raw: &str, user_inputs: &[&str]) -> Result<Password, Vec<String>> {
        let length = raw.chars().count();
        if length < Self::MIN_CHARS {
            return Err(vec![
                "This password is too short. It must contain at least 8 characters.".into(),
            ]);
        }
        if length > Self::MAX_CHARS {
            return Err(vec![
                "Ensure this field has no more than 128 characters.".into()
            ]);
        }
        let mut problems = Vec::new();
        if is_similar_to_any(raw, user_inputs) {
            problems.push("The password is too similar to the username.".to_owned());
        }
        let inputs: Vec<&str> = user_inputs
            .iter()
            .copied()
            .filter(|s| !s.is_empty())
            .collect();
        let guesses_log10 = zxcvbn::zxcvbn(raw, &inputs).guesses_log10();
        if guesses_log10 < Self::MIN_GUESSES_LOG10 && problems.is_empty() {
            problems.push("This password is too common.".to_owned());
        }
        if raw.chars().all(|c| c.is_ascii_digit()) {
            problems.push("This password is entirely numeric.".to_owned());
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

/// True when the password contains one of the inputs (or its email's local
/// part), or is contained in one, ignoring case.
fn is_similar_to_any(password: &str, inputs: &[&str]) -> bool {
    let password = password.to_lowercase();
    inputs
        .iter()
        .map(|input| input.to_lowercase())
        .flat_map(|input| {
            let local = input.split('@').next().unwrap_or_default().to_owned();
            [input, local]
        })
        .filter(|word| word.chars().count() >= 3)
        .any(|word| password.contains(&word) || word.contains(&password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert!(Password::new("Zq7!vR2", &[]).is_err());
        assert!(Password::new("Zq7!vR2#", &[]).is_ok());
        assert!(Password::new(&"Zq7!vR2#".repeat(16), &[]).is_ok());
        assert!(Password::new(&format!("{}x", "Zq7!vR2#".repeat(16)), &[]).is_err());
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

    #[test]
    fn passwords_built_from_the_username_are_refused() {
        let problems = Password::new("marguerite2024", &["marguerite", ""]).unwrap_err();
        assert_eq!(
            problems,
            vec!["The password is too similar to the username."]
        );
        assert!(Password::new("Xk92!dumbo-lamp", &["jdoe@example.com"]).is_ok());
        assert!(Password::new("jdoe-lamp-92!x", &["jdoe@example.com"]).is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let password = Password::new("Zq7!vR2#kL", &[]).unwrap();
        assert!(!format!("{password:?}").contains("Zq7"));
    }
}
