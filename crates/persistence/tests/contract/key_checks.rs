//! Digests of keys every instance must share: the first recorded stays
//! until one is put in its place.

contract_tests! {
    fn the_first_digest_is_recorded_and_another_is_told_apart(db: &Database) {
        assert!(db.key_check("mfa_key", "first").unwrap(), "none was recorded: it is now");
        assert!(db.key_check("mfa_key", "first").unwrap());
        assert!(!db.key_check("mfa_key", "second").unwrap());
        assert!(db.key_check("other", "second").unwrap(), "each name has its own");
        db.replace_key_check("mfa_key", "second").unwrap();
        assert!(db.key_check("mfa_key", "second").unwrap());
        assert!(!db.key_check("mfa_key", "first").unwrap());
    }
}
