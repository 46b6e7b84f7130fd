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

/// The folders of `crates/server/src`: `web` (shared plumbing), `pipeline` (the order step
/// pipeline) and one per feature; files at the top (lib.rs) are the crate root.
fn server_folders() -> Vec<String> {
    let src = crates_dir().join("server/src");
    let mut folders: Vec<String> = fs::read_dir(&src)
        .expect("read crates/server/src")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    folders
}

/// The folder of a source file under `crates/server/src`, `None` at the crate root.
fn folder_of(path: &Path) -> Option<String> {
    let relative = path
        .strip_prefix(crates_dir().join("server/src"))
        .expect("a server source");
    let mut parts = relative.components();
    let first = parts.next()?.as_os_str().to_string_lossy().into_owned();
    parts.next().map(|_| first)
}

/// Every `crate::a::b…` path in `text` (in `use` lines and in code), as its segments. Grouped
/// imports (`crate::a::{b, c::d}`) give one path per member.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        // `certdesk_store::…` and the like are other crates: only a bare `crate::` counts.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut prefix = Vec::new();
        let mut chars = rest;
        loop {
            let len = chars
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(chars.len());
            if len == 0 {
                break;
            }
            prefix.push(chars[..len].to_string());
            chars = &chars[len..];
            if let Some(after) = chars.strip_prefix("::") {
                if let Some(group) = after.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for member in group[..end].split(',') {
                        let mut path = prefix.clone();
                        path.extend(
                            member
                                .split(" as ")
                                .next()
                                .unwrap_or("")
                                .split("::")
                                .map(|s| s.trim().to_string())
                                .filter(|s| !s.is_empty()),
                        );
                        paths.push(path);
                    }
                    prefix.clear();
                    break;
                }
                chars = after;
            } else {
                break;
            }
        }
        if !prefix.is_empty() {
            paths.push(prefix);
        }
    }
    paths
}

#[test]
fn features_use_each_other_only_through_what_they_export_and_in_no_circle() {
    let folders = server_folders();
    for expected in [
        "web",
        "pipeline",
        "accounts",
        "bindings",
        "applications",
        "reviews",
        "payments",
        "identity",
        "products",
        "issuance",
        "delivery",
        "audit",
        "pki",
        "orders",
    ] {
        assert!(
            folders.iter().any(|f| f == expected),
            "crates/server/src/{expected}/ is missing (ARCHITECTURE.md lists it)"
        );
    }
    let sources = rust_sources(&crates_dir().join("server/src"));
    // A feature's own parts (the files and folders inside it) are private to it: its mod.rs
    // declares them without `pub`, so the compiler keeps other features out, and exports what
    // others may use. The web plumbing is public by design.
    let mut problems = Vec::new();
    for (path, text) in &sources {
        let Some(folder) = folder_of(path) else {
            continue;
        };
        if folder == "web"
            || !path.ends_with("mod.rs")
            || path.parent().unwrap().file_name().unwrap() != folder.as_str()
        {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if (line.starts_with("pub mod ") || line.starts_with("pub(crate) mod "))
                && line.ends_with(';')
            {
                problems.push(format!(
                    "{}:{}: `{line}`: a feature's parts are private; export items instead",
                    relative(path),
                    n + 1
                ));
            }
        }
    }
    // No feature reaches into another's parts, and the folders depend on each other in no
    // circle; the web plumbing depends on no feature.
    let parts_of = |folder: &str| -> Vec<String> {
        fs::read_dir(crates_dir().join("server/src").join(folder))
            .expect("read a feature folder")
            .map(|e| e.expect("directory entry").path())
            .filter_map(|p| {
                let name = p.file_stem()?.to_string_lossy().into_owned();
                (name != "mod").then_some(name)
            })
            .collect()
    };
    let mut depends: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        folders
            .iter()
            .map(|f| (f.clone(), Default::default()))
            .collect();
    for (path, text) in &sources {
        let Some(folder) = folder_of(path) else {
            continue;
        };
        for segments in crate_paths(text) {
            let Some(target) = segments.first() else {
                continue;
            };
            if target == &folder || !folders.contains(target) {
                continue;
            }
            depends.get_mut(&folder).unwrap().insert(target.clone());
            if target != "web" {
                if let Some(part) = segments.get(1) {
                    if parts_of(target).contains(part) {
                        problems.push(format!(
                            "{}: crate::{} reaches into {target}'s private part {part}",
                            relative(path),
                            segments.join("::")
                        ));
                    }
                }
            }
        }
    }
    if !depends["web"].is_empty() {
        problems.push(format!(
            "the web plumbing depends on features: {:?}",
            depends["web"]
        ));
    }
    // Depth-first search for a circle.
    fn visit(
        node: &str,
        depends: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        trail: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
        circles: &mut Vec<String>,
    ) {
        if let Some(at) = trail.iter().position(|n| n == node) {
            let mut circle = trail[at..].to_vec();
            circle.push(node.to_string());
            circles.push(circle.join(" → "));
            return;
        }
        if !done.insert(node.to_string()) {
            return;
        }
        trail.push(node.to_string());
        for next in &depends[node] {
            visit(next, depends, trail, done, circles);
        }
        trail.pop();
    }
    let mut circles = Vec::new();
    let mut done = std::collections::BTreeSet::new();
    for folder in &folders {
        visit(folder, &depends, &mut Vec::new(), &mut done, &mut circles);
    }
    for circle in circles {
        problems.push(format!("import circle: {circle}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_use_line_reader_finds_grouped_and_nested_paths() {
    let found = crate_paths(
        "use crate::payments::{refund_paid_order, gateway::SandboxGateway as Sandbox};\n\
         let x = crate::pipeline::order_for(); certdesk_store::crate_thing();",
    );
    assert_eq!(
        found,
        vec![
            vec!["payments".to_string(), "refund_paid_order".into()],
            vec!["payments".into(), "gateway".into(), "SandboxGateway".into()],
            vec!["pipeline".into(), "order_for".into()],
        ]
    );
}

#[test]
fn architecture_md_names_every_server_folder_and_no_other() {
    let text =
        fs::read_to_string(crates_dir().join("../ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let folders = server_folders();
    let prefix = "crates/server/src/";
    let named: std::collections::BTreeSet<String> = text
        .match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest.find('/')?;
            let name = &rest[..end];
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
                .then(|| name.to_string())
        })
        .filter(|name| !name.is_empty())
        .collect();
    let missing: Vec<&String> = folders.iter().filter(|f| !named.contains(*f)).collect();
    let gone: Vec<&String> = named.iter().filter(|n| !folders.contains(n)).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "ARCHITECTURE.md does not name {missing:?}; it names folders that do not exist: {gone:?}"
    );
}

#[test]
fn features_fail_with_their_own_errors_mapped_in_one_place() {
    // A feature's service says what went wrong with its own error enum (`error.rs`, a
    // `FeatureError`); only the web plumbing turns a kind of failure into an HTTP status or a
    // page. So no feature builds an API error itself or reads one's status to decide a page.
    let mut found = Vec::new();
    for (path, text) in rust_sources(&crates_dir().join("server/src")) {
        let Some(folder) = folder_of(&path) else {
            continue;
        };
        if folder == "web" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let builds_api_error = line.contains("ApiError::");
            let reads_status =
                line.contains("err.status") || line.contains(".status.is_client_error");
            if builds_api_error || reads_status {
                found.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
        }
    }
    for folder in server_folders() {
        if folder == "web" || folder == "pki" {
            continue;
        }
        let error = crates_dir()
            .join("server/src")
            .join(&folder)
            .join("error.rs");
        let text = fs::read_to_string(&error).unwrap_or_default();
        if !text.contains("impl FeatureError for") {
            found.push(format!(
                "server/src/{folder}/error.rs: no error enum implementing FeatureError"
            ));
        }
    }
    assert!(
        found.is_empty(),
        "errors built or read as HTTP outside the web plumbing:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_web_side_knows_the_ca_only_by_its_service() {
    // The RA/CA boundary (issue 11): the server holds an `Arc<dyn CaService>` and never names
    // the in-process CA, so the CA can run elsewhere behind the same trait.
    let found: Vec<String> = rust_sources(&crates_dir().join("server/src"))
        .into_iter()
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| line.contains("CertificateAuthority"))
                .map(|(n, line)| format!("{}:{}: {}", relative(&path), n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_ca_sees_only_its_own_records() {
    // Issue 11: the CA reads and writes through its narrow `CaRecords` interface, never the
    // whole `Store` (only records.rs, which implements it for the store, names the type).
    let ca_src = crates_dir().join("ca/src");
    let found: Vec<String> = rust_sources(&ca_src)
        .into_iter()
        .filter(|(path, _)| !path.ends_with("records.rs") && !path.ends_with("tests.rs"))
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| {
                    let code = line.trim_start();
                    let names_type = ["&Store", ": Store", "Store::", "<Store>"]
                        .iter()
                        .any(|p| code.contains(p));
                    let imports_it = code.starts_with("use ")
                        && code
                            .split(|c: char| !c.is_alphanumeric() && c != '_')
                            .any(|word| word == "Store");
                    !code.starts_with("//") && (names_type || imports_it)
                })
                .map(|(n, line)| format!("{}:{}: {}", relative(&path), n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        found.is_empty(),
        "the CA names the whole store:\n{}",
        found.join("\n")
    );
}
