//! Reading another system's user table (`SourceTable`), page by page.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use sesame_persistence::testing::{postgres_admin_url, TestDatabase};
use sesame_persistence::SourceTable;

/// A fastapi-users table whose rows were inserted out of email order.
const TABLE: &str = "CREATE TABLE accounts (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, \
     hashed_password TEXT NOT NULL, is_active BOOLEAN NOT NULL, is_superuser BOOLEAN NOT NULL, \
     is_verified BOOLEAN NOT NULL); \
     INSERT INTO accounts VALUES \
     ('5', 'eve@x.test', 'h', TRUE, FALSE, TRUE), ('1', 'ann@x.test', 'h', TRUE, FALSE, TRUE), \
     ('4', 'dan@x.test', 'h', TRUE, FALSE, TRUE), ('2', 'bob@x.test', 'h', TRUE, FALSE, TRUE), \
     ('3', 'cy@x.test', 'h', TRUE, FALSE, TRUE);";

/// Every email of the table, read two rows a page.
fn emails_by_pages_of_two(url: &str) -> Vec<String> {
    let mut source = SourceTable::open(url, "accounts").unwrap();
    let (mut emails, mut after) = (Vec::new(), None::<String>);
    loop {
        let page = source.fastapi_users_page(after.as_deref(), 2).unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 2);
        after = Some(last.email.clone());
        emails.extend(page.into_iter().map(|row| row.email));
    }
    emails
}

const ALL: [&str; 5] = [
    "ann@x.test",
    "bob@x.test",
    "cy@x.test",
    "dan@x.test",
    "eve@x.test",
];

#[test]
fn fastapi_users_rows_are_read_by_email_page_after_page_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(TABLE).unwrap();
    let url = format!("sqlite://{}", path.display());
    assert_eq!(emails_by_pages_of_two(&url), ALL);
}

#[test]
fn fastapi_users_rows_are_read_by_email_page_after_page_on_postgres() {
    let Some(admin_url) = postgres_admin_url() else {
        eprintln!("skipped: SESAME_TEST_POSTGRES_URL is not set");
        return;
    };
    let fresh = TestDatabase::create(&admin_url);
    let mut conn = PgConnection::establish(fresh.url()).unwrap();
    conn.batch_execute(TABLE).unwrap();
    drop(conn);
    assert_eq!(emails_by_pages_of_two(fresh.url()), ALL);
}
