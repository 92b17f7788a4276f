//! TOTP records: a pending setup is turned on once, by the confirmation of
//! the secret it holds.

use sesame_kernel::UserId;
use sesame_tokens::{MfaRepository, TokensError};

use crate::support::insert_user;

contract_tests! {
    fn a_setup_is_confirmed_once_and_only_with_its_own_secret(db: &Database) {
        assert_eq!(db.totp_secrets(UserId(0), 10).unwrap(), vec![]);
        let ada = insert_user(db, "ada", None);
        db.save_pending_totp(ada.id, "first").unwrap();
        let bob = insert_user(db, "bob", None);
        db.save_pending_totp(bob.id, "bob's").unwrap();
        let (ada_s, bob_s) = ((ada.id, "first".to_owned()), (bob.id, "bob's".to_owned()));
        assert_eq!(db.totp_secrets(UserId(0), 10).unwrap(), vec![ada_s.clone(), bob_s.clone()]);
        assert_eq!(db.totp_secrets(UserId(0), 1).unwrap(), vec![ada_s]);
        assert_eq!(db.totp_secrets(ada.id, 10).unwrap(), vec![bob_s]);
        // A newer setup replaced the one a code was checked against.
        db.save_pending_totp(ada.id, "second").unwrap();
        assert!(!db.confirm_totp(ada.id, "first", 1, &["a".into()]).unwrap());
        assert!(!db.find_totp(ada.id).unwrap().unwrap().confirmed);
        assert!(db.confirm_totp(ada.id, "second", 1, &["b".into()]).unwrap());
        // A second confirmation racing the first changes nothing: the codes stay the first's.
        assert!(!db.confirm_totp(ada.id, "second", 2, &["c".into()]).unwrap());
        let record = db.find_totp(ada.id).unwrap().unwrap();
        assert!(record.confirmed && record.last_used_step == Some(1));
        assert!(db.use_recovery_code(ada.id, "b").unwrap());
        assert!(!db.use_recovery_code(ada.id, "c").unwrap());
        // A setup that checked before the confirmation, and saves after it.
        assert!(matches!(
            db.save_pending_totp(ada.id, "third"),
            Err(TokensError::MfaAlreadyEnabled)
        ));
        assert_eq!(db.find_totp(ada.id).unwrap().unwrap().encrypted_secret, "second");
    }
}
