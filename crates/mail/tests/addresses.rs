//! Every address the users crate accepts is one lettre can send to: the list
//! of sample addresses is the users crate's own.

use std::str::FromStr;

use lettre::Address;
use sesame_users::Email;

const SAMPLES: &str = include_str!("../../users/tests/data/addresses.txt");

#[test]
fn every_accepted_address_is_one_lettre_takes() {
    let mut accepted = 0;
    for line in SAMPLES.lines().filter(|l| l.starts_with(['+', '-'])) {
        let Ok(email) = Email::parse(&line[2..], "email") else {
            continue;
        };
        accepted += 1;
        assert!(
            Address::from_str(email.as_str()).is_ok(),
            "{} accepted by Email::parse, refused by lettre",
            email.as_str()
        );
    }
    assert!(accepted >= 5, "the sample list lost its good addresses");
}
