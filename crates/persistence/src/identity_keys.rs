//! Keeps the stored `username_key` and `email_key` of every account in step
//! with the domain's rule ([`identity_key`]): rows stored under an older rule
//! get their keys computed again once, at start, after the migrations.

use std::collections::HashMap;

use diesel::prelude::*;
use sesame_users::{identity_key, IDENTITY_KEY_VERSION};

use crate::schema::{key_rules, users};
use crate::{Database, PersistenceError};

/// The name under which `key_rules` records the version of the users' keys.
const RULE: &str = "users";

/// An account's names and the keys stored for them.
#[derive(Queryable)]
struct KeyedRow {
    id: i64,
    username: String,
    username_key: String,
    email: Option<String>,
    email_key: Option<String>,
}

/// New keys for one account.
#[derive(Debug, PartialEq, Eq)]
struct NewKeys {
    id: i64,
    username_key: String,
    email_key: Option<String>,
}

/// What recomputing the keys does.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Accounts whose keys change.
    changes: Vec<NewKeys>,
    /// `(holder, untouched)`: the second account's new keys would be the
    /// first's, so it keeps its old ones.
    collisions: Vec<(i64, i64)>,
    /// `(named, addressed)`: the first account's username is the second's
    /// email address (kept as they are; new ones are refused).
    username_is_email: Vec<(i64, i64)>,
}

/// The changes that bring `rows` (in id order) to the current rule. An
/// account whose new key another account holds, or took earlier in id
/// order, keeps its old keys: nothing is lost, and the collision is reported.
fn plan(rows: &[KeyedRow]) -> Plan {
    let mut usernames: HashMap<String, i64> = rows
        .iter()
        .map(|row| (row.username_key.clone(), row.id))
        .collect();
    let mut emails: HashMap<String, i64> = rows
        .iter()
        .filter_map(|row| Some((row.email_key.clone()?, row.id)))
        .collect();
    let mut plan = Plan::default();
    for row in rows {
        let username_key = identity_key(&row.username);
        let email_key = row.email.as_deref().map(identity_key);
        if username_key == row.username_key && email_key == row.email_key {
            continue;
        }
        let held_by_other = |keys: &HashMap<String, i64>, key: &str| {
            keys.get(key).copied().filter(|&holder| holder != row.id)
        };
        let holder = held_by_other(&usernames, &username_key).or_else(|| {
            email_key
                .as_deref()
                .and_then(|key| held_by_other(&emails, key))
        });
        if let Some(holder) = holder {
            plan.collisions.push((holder, row.id));
            continue;
        }
        usernames.remove(&row.username_key);
        usernames.insert(username_key.clone(), row.id);
        if let Some(old) = &row.email_key {
            emails.remove(old);
        }
        if let Some(key) = &email_key {
            emails.insert(key.clone(), row.id);
        }
        plan.changes.push(NewKeys {
            id: row.id,
            username_key,
            email_key,
        });
    }
    for (key, &named) in &usernames {
        if let Some(&addressed) = emails.get(key).filter(|&&holder| holder != named) {
            plan.username_is_email.push((named, addressed));
        }
    }
    plan.username_is_email.sort_unstable();
    plan
}

impl Database {
    /// Computes the users' keys again when they were stored under an older
    /// rule than [`IDENTITY_KEY_VERSION`] (once; later starts read one row).
    /// Collisions are logged with the account ids, never their names.
    pub(crate) fn refresh_identity_keys(&self) -> Result<(), PersistenceError> {
        let plan = in_transaction!(self, |conn| {
            let version: Option<i32> = key_rules::table
                .find(RULE)
                .select(key_rules::version)
                .first(conn)
                .optional()?;
            if version == Some(IDENTITY_KEY_VERSION) {
                return Ok(None);
            }
            let rows: Vec<KeyedRow> = users::table
                .order(users::id.asc())
                .select((
                    users::id,
                    users::username,
                    users::username_key,
                    users::email,
                    users::email_key,
                ))
                .load(conn)?;
            let plan = plan(&rows);
            for keys in &plan.changes {
                diesel::update(users::table.find(keys.id))
                    .set((
                        users::username_key.eq(&keys.username_key),
                        users::email_key.eq(&keys.email_key),
                    ))
                    .execute(conn)?;
            }
            diesel::insert_into(key_rules::table)
                .values((
                    key_rules::name.eq(RULE),
                    key_rules::version.eq(IDENTITY_KEY_VERSION),
                ))
                .on_conflict(key_rules::name)
                .do_update()
                .set(key_rules::version.eq(IDENTITY_KEY_VERSION))
                .execute(conn)?;
            Ok::<_, diesel::result::Error>(Some(plan))
        })?;
        let Some(plan) = plan else {
            return Ok(());
        };
        tracing::info!(
            version = IDENTITY_KEY_VERSION,
            changed = plan.changes.len(),
            "username and email keys computed again under the current rule"
        );
        for (holder, untouched) in plan.collisions {
            tracing::warn!(
                user_id = untouched,
                same_as_user_id = holder,
                "this account's username or email is now the same as another account's; \
                 it keeps its old key until one of them is renamed"
            );
        }
        for (named, addressed) in plan.username_is_email {
            tracing::warn!(
                user_id = named,
                email_of_user_id = addressed,
                "this account's username is another account's email address"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, username: &str, username_key: &str, email: Option<&str>) -> KeyedRow {
        KeyedRow {
            id,
            username: username.into(),
            username_key: username_key.into(),
            email: email.map(Into::into),
            email_key: email.map(str::to_lowercase),
        }
    }

    #[test]
    fn current_keys_change_nothing() {
        let rows = [
            row(1, "root", "root", Some("root@example.com")),
            row(2, "Bob", "bob", None),
        ];
        assert_eq!(plan(&rows), Plan::default());
    }

    #[test]
    fn old_keys_are_recomputed_and_collisions_kept_apart() {
        let rows = [
            row(1, "root", "root", Some("root@example.com")),
            row(2, "ｒｏｏｔ", "ｒｏｏｔ", None),
            row(3, "ＡＤＭＩＮ", "ａｄｍｉｎ", Some("x@ｅxample.com")),
            row(4, "carol", "carol", Some("ROOT@ｅxample.com")),
            row(5, "root@example.com", "root@example.com", None),
        ];
        let plan = plan(&rows);
        assert_eq!(
            plan.changes,
            vec![NewKeys {
                id: 3,
                username_key: "admin".into(),
                email_key: Some("x@example.com".into()),
            }]
        );
        assert_eq!(plan.collisions, vec![(1, 2), (1, 4)]);
        assert_eq!(plan.username_is_email, vec![(5, 1)]);
    }
}
