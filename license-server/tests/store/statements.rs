//! Every SQL statement of the store, prepared on both backends: a typo or a wrong parameter
//! count fails here, once, with the statement's name. And the registry the test walks
//! (`Store::statements`) is checked against the source, so a statement cannot be left out.

use crate::helpers::{Kind, on_both_backends, open};
use license_server::store::{Backend, Statement, Store, StoreError};
use std::collections::BTreeSet;

on_both_backends!(
    every_statement_prepares_with_its_parameter_count,
    a_broken_statement_fails_with_its_name,
);

/// Both databases report the parameters of a prepared statement, and both must agree with
/// the count the store binds (`Statement::parameters`, the highest `$N`):
/// - Postgres infers a type for each parameter from `$1` to the highest; a number skipped or
///   used where no type can be inferred fails the prepare.
/// - SQLite (`sqlite3_bind_parameter_count`) counts *distinct* `$N` names, so it equals the
///   highest `$N` exactly when no number is skipped: a gap shows here as a mismatch.
async fn every_statement_prepares_with_its_parameter_count(kind: Kind) {
    let (_db, store) = open(kind).await;
    let backend = store.backend();
    let mut failures = Vec::new();
    let mut prepared = 0;
    for statement in Store::statements() {
        let expected = statement.parameters(backend);
        match store.prepare(statement).await {
            Ok(count) if count == expected => prepared += 1,
            Ok(count) => failures.push(format!(
                "{}: {backend} reports {count} parameters, the store binds {expected}",
                statement.name
            )),
            Err(e) => failures.push(format!("{}: {e}", statement.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} statements fail on {backend}:\n{}",
        failures.len(),
        prepared + failures.len(),
        failures.join("\n")
    );
    assert!(prepared > 40, "only {prepared} statements were prepared");
}

/// The failures the prepare test exists to catch, shown to be caught: a misspelt column, a
/// skipped parameter number, and (before any SQL runs) a wrong number of values.
async fn a_broken_statement_fails_with_its_name(kind: Kind) {
    let (_db, store) = open(kind).await;
    let typo = Statement::new("test.typo", "SELECT nmae FROM accounts WHERE id = $1");
    let err = store.prepare(&typo).await.unwrap_err();
    assert!(err.to_string().contains("test.typo"), "{err}");
    assert!(err.to_string().contains("nmae"), "{err}");

    let gap = Statement::new(
        "test.gap",
        "SELECT id FROM accounts WHERE id = $1 AND name = $3",
    );
    assert_eq!(gap.parameters(store.backend()), 3);
    match store.prepare(&gap).await {
        Ok(count) => {
            assert_eq!(store.backend(), Backend::Sqlite, "Postgres refuses the gap");
            assert_eq!(count, 2, "SQLite counts the names it sees");
        }
        Err(e) => {
            assert_eq!(store.backend(), Backend::Postgres, "{e}");
            assert!(e.to_string().contains("test.gap"), "{e}");
        }
    }

    static TWO: Statement = Statement::new("test.two_values", "SELECT $1, $2");
    let err = TWO.bind(1_i64).execute(store.conn()).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Database(m) if m.contains("test.two_values") && m.contains("takes 2 values but was given 1")),
        "{err}"
    );
}

/// The statements declared in `src/store/*.rs` (outside `#[cfg(test)]` code): each file's
/// names, by module (`pool.rs`, where `Store` lives, is `store`).
fn declared_statements() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut declared = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(
        files.len() > 10,
        "the store's files are found in {}",
        dir.display()
    );
    for path in files {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let module = if stem == "pool" { "store" } else { stem };
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for constructor in ["Statement::new(", "Statement::per_backend("] {
            for (at, _) in code.match_indices(constructor) {
                let rest = &code[at + constructor.len()..];
                let name = rest
                    .trim_start()
                    .strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(name, _)| name)
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: a statement whose name is not a literal",
                            path.display()
                        )
                    });
                declared.push((module.to_owned(), name.to_owned()));
            }
        }
    }
    declared
}

#[test]
fn the_registry_lists_every_statement_once_under_its_module() {
    let declared = declared_statements();
    let registered: Vec<&str> = Store::statements().map(|s| s.name).collect();
    assert_eq!(
        declared.len(),
        registered.len(),
        "statements declared in src/store vs listed by Store::statements()"
    );
    let unique: BTreeSet<&str> = registered.iter().copied().collect();
    assert_eq!(
        unique.len(),
        registered.len(),
        "statement names repeat: {registered:?}"
    );
    let declared_names: BTreeSet<&str> = declared.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        declared_names, unique,
        "declared and registered names differ"
    );
    for (module, name) in &declared {
        assert!(
            name.starts_with(&format!("{module}.")) && name.len() > module.len() + 1,
            "statement {name:?} is declared in module {module} but not named `{module}.…`"
        );
    }
    for statement in Store::statements() {
        if let Some(sqlite) = statement.sqlite {
            assert_ne!(
                sqlite, statement.sql,
                "{}: a SQLite text the same as the shared one",
                statement.name
            );
        }
    }
}

/// On SQLite a statement run outside a transaction goes to the one writer connection when it
/// `writes()`, to a read-only reader otherwise (`store/sqlite.rs`). Every statement that names
/// a writing keyword must be routed to the writer; the readers, opened read-only, would refuse
/// it at run time, and every test writing through the store would fail.
#[test]
fn every_statement_that_writes_is_routed_to_the_writer() {
    let writing = ["INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT"];
    let mut reads = 0;
    for statement in Store::statements() {
        for text in [Some(statement.sql), statement.sqlite]
            .into_iter()
            .flatten()
        {
            let upper = text.to_ascii_uppercase();
            let words: BTreeSet<&str> = upper
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty())
                .collect();
            // `FOR UPDATE` locks rows on Postgres and only runs inside a transaction.
            let without_lock = upper.replace("FOR UPDATE", "");
            let names_a_write = writing.iter().any(|w| {
                words.contains(w)
                    && without_lock
                        .split(|c: char| !c.is_ascii_alphabetic())
                        .any(|word| word == *w)
            });
            if names_a_write {
                assert!(
                    statement.writes(),
                    "{} writes but would run on a read-only reader",
                    statement.name
                );
            }
        }
        if !statement.writes() {
            reads += 1;
        }
    }
    assert!(reads > 20, "only {reads} statements read");
    assert!(!Statement::new("t", "  select 1").writes());
    assert!(Statement::new("t", "WITH x AS (SELECT 1) DELETE FROM t").writes());
    assert!(Statement::new("t", "INSERT INTO t VALUES (1)").writes());
}
