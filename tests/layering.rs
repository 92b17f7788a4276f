//! The domain crates stand alone: none of them reaches an HTTP server, a
//! database, an async runtime or a mail client, even indirectly, and each
//! depends only on the Sesame crates the architecture allows
//! (docs/architecture.md). A dependency added to a domain crate that breaks
//! this fails here, naming the chain that brought it in.

use std::process::Command;

/// Crates a domain crate must never depend on (normal dependencies, any
/// depth), by name prefix: `actix` covers actix-web, actix-rt, ...
const FORBIDDEN: [&str; 5] = ["actix", "diesel", "r2d2", "tokio", "lettre"];

/// Each domain crate and the Sesame crates it may use.
const DOMAIN: [(&str, &[&str]); 4] = [
    ("sesame-users", &["sesame-kernel"]),
    ("sesame-tokens", &["sesame-kernel", "sesame-users"]),
    ("sesame-events", &["sesame-kernel"]),
    ("sesame-messaging", &["sesame-kernel", "sesame-users"]),
];

/// `cargo tree` of the normal dependencies of `package`, one line per
/// dependency with its depth: `2sesame-kernel v0.1.0 (...)`.
fn normal_dependencies(package: &str) -> Vec<(usize, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let output = Command::new(cargo)
        .args(["tree", "--locked", "--edges", "normal", "--prefix", "depth"])
        .args(["--package", package])
        .args([
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| {
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let depth = line[..digits].parse().ok()?;
            Some((depth, line[digits..].to_owned()))
        })
        .collect()
}

/// The crate name of a `cargo tree` line.
fn name(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

/// The chain of dependencies from the root to line `index`.
fn path_to(tree: &[(usize, String)], index: usize) -> String {
    let mut chain = vec![name(&tree[index].1)];
    let mut depth = tree[index].0;
    for (d, line) in tree[..index].iter().rev() {
        if *d < depth {
            chain.push(name(line));
            depth = *d;
        }
    }
    chain.reverse();
    chain.join(" -> ")
}

#[test]
fn domain_crates_depend_on_no_adapter_runtime_or_server() {
    let mut problems = Vec::new();
    for (package, allowed) in DOMAIN {
        let tree = normal_dependencies(package);
        assert_eq!(
            tree.first().map(|(_, line)| name(line)),
            Some(package),
            "cargo tree printed something else"
        );
        for (index, (_, line)) in tree.iter().enumerate().skip(1) {
            let dependency = name(line);
            let forbidden = FORBIDDEN.iter().any(|f| dependency.starts_with(f));
            let foreign_sesame = dependency.starts_with("sesame") && !allowed.contains(&dependency);
            if forbidden || foreign_sesame {
                problems.push(path_to(&tree, index));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "domain crates reach crates they must not:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_sees_adapters_where_they_are() {
    // The same reading of `cargo tree` finds actix in the HTTP crate: the
    // test above passes because the domain is clean, not because it is blind.
    let tree = normal_dependencies("sesame-http");
    assert!(tree.iter().any(|(_, line)| name(line) == "actix-web"));
    let index = tree
        .iter()
        .position(|(_, line)| name(line) == "tokio")
        .expect("sesame-http uses tokio");
    assert!(path_to(&tree, index).starts_with("sesame-http -> "));
}
