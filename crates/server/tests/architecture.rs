//! The shape of the code, checked by reading it: order statuses are types above the store's
//! mapping, and an order moves only through the step pipeline.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace's `crates/` folder.
fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/server has a parent")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, recursively, with its text.
fn rust_sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).expect("read a source file");
                found.push((path, text));
            }
        }
    }
    assert!(!found.is_empty(), "no sources under {}", dir.display());
    found
}

/// Sources of the crates above the store: the web side, the binary and the CA.
fn above_the_store() -> Vec<(PathBuf, String)> {
    ["server/src", "cli/src", "ca/src"]
        .iter()
        .flat_map(|dir| rust_sources(&crates_dir().join(dir)))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(crates_dir())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn order_statuses_are_types_above_the_store() {
    // Status names no other kind of record shares (transfers and refunds have their own
    // 'rejected', 'completed'; those are not order statuses).
    let names = [
        "draft",
        "awaiting_initial_review",
        "awaiting_payment",
        "awaiting_second_review",
        "issuing",
        "issued",
        "shipping",
        "awaiting_pickup",
        "withdrawn",
        "refunding",
        "refunded",
    ];
    for name in names {
        assert!(
            name.parse::<certdesk_domain::OrderStatus>().is_ok(),
            "{name} is an order status"
        );
    }
    let mut found = Vec::new();
    // The CA knows no orders (its "issuing" is a CA's role); the web side and the binary do.
    let order_code = ["server/src", "cli/src"]
        .iter()
        .flat_map(|dir| rust_sources(&crates_dir().join(dir)));
    for (path, text) in order_code {
        for (n, line) in text.lines().enumerate() {
            let literal = names
                .iter()
                .find(|name| line.contains(&format!("\"{name}\"")));
            // Parsing what a user typed into the type is the way in; a stored or carried status
            // is never parsed or compared as text.
            let parsed = line.contains("status.parse::<OrderStatus>")
                || line.contains("status.parse()")
                || line.contains("status.as_str() ==")
                || line.contains("status.as_str() !=");
            if literal.is_some() || parsed {
                found.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "order statuses handled as text outside the store's mapping:\n{}",
        found.join("\n")
    );
}

#[test]
fn orders_move_only_through_the_step_pipeline() {
    // A step is made by a workflow table (certdesk_domain::Step has private fields); it is
    // turned into a StepRecord for the store in one place on the web side.
    let pipeline = crates_dir().join("server/src/pipeline/mod.rs");
    let store_testing = crates_dir().join("store/src/testing.rs");
    let mut found = Vec::new();
    let all = above_the_store()
        .into_iter()
        .chain(rust_sources(&crates_dir().join("store/src")));
    for (path, text) in all {
        for (n, line) in text.lines().enumerate() {
            let builds_record =
                line.contains("StepRecord {") && !line.contains("struct StepRecord");
            let makes_step = line.contains("workflow().step(");
            if (builds_record || makes_step) && path != pipeline && path != store_testing {
                found.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
            // The one statement that writes an order's status, in the store's step function.
            let writes_status = line.contains("UPDATE orders SET status");
            let store_orders = crates_dir().join("store/src/orders.rs");
            if writes_status && path != store_orders && path != store_testing {
                found.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "steps made or applied outside the pipeline:\n{}",
        found.join("\n")
    );
}
