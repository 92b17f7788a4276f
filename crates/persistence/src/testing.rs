//! Support for tests that need a real PostgreSQL: a throw-away database per run.

use diesel::connection::SimpleConnection;

use crate::database::connect_postgres;

/// The environment variable that points tests at a PostgreSQL server, as an
/// admin URL such as `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "SESAME_TEST_POSTGRES_URL";

/// The admin URL from [`POSTGRES_URL_VAR`], or `None` when PostgreSQL tests
/// should not run (the variable is unset or empty).
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A database created for one test run and dropped when this value is.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the server at `admin_url`.
    ///
    /// # Panics
    /// When the server cannot be reached: a test that asked for PostgreSQL
    /// must fail, not skip.
    pub fn create(admin_url: &str) -> TestDatabase {
        let name = format!(
            "sesame_test_{}",
            sesame_kernel::secrets::hex(&sesame_kernel::secrets::random_bytes(6))
        );
        let mut admin = connect_postgres(admin_url).unwrap_or_else(|e| {
            panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable: {e}")
        });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = replace_database(admin_url, &name);
        TestDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        }
    }

    /// The URL of the fresh database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect_postgres(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `admin_url` with its database name replaced by `database`.
fn replace_database(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h:5432", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            replace_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
