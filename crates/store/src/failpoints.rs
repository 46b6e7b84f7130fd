//! Failpoints: named places where a crash test can stop the process (issue 10). Built only with
//! the `failpoints` feature (the binary's test build); otherwise [`failpoint`] is empty and
//! inlined away, so a release binary has none.
//!
//! A test configures them through the `FAILPOINTS` environment variable, as the `fail` crate
//! reads it: `name=action;name=action`, e.g. `issuance-after-sign=sleep(60000)`, and kills the
//! process with SIGKILL while it sleeps there.

/// Places in issuance, in the order they are passed.
pub const ISSUANCE_FAILPOINTS: [&str; 5] = [
    // The order is checked; nothing is recorded yet.
    "issuance-before-intent",
    // The intent (serials, public-key hash) is recorded; nothing is signed.
    "issuance-after-intent",
    // The CA has signed; nothing of the certificates is written.
    "issuance-after-sign",
    // Certificates, key archives, link and step are written but not committed.
    "issuance-before-commit",
    // Committed; the response has not left.
    "issuance-after-commit",
];

/// Stops here as `FAILPOINTS` says, after announcing on standard error that the point was
/// reached (so that a test knows when to kill).
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    if fail::list()
        .iter()
        .any(|(configured, _)| configured == name)
    {
        eprintln!("failpoint {name} reached");
    }
    fail::fail_point!(name);
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}

/// Configures the failpoints named in `FAILPOINTS`; answers how many. Does nothing (and answers
/// 0) in a build without the `failpoints` feature.
#[cfg(feature = "failpoints")]
pub fn configure_failpoints_from_env() -> Result<usize, String> {
    let Ok(spec) = std::env::var("FAILPOINTS") else {
        return Ok(0);
    };
    let mut count = 0;
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("FAILPOINTS entry without '=': {entry}"))?;
        fail::cfg(name.trim(), actions.trim())?;
        count += 1;
    }
    Ok(count)
}

#[cfg(not(feature = "failpoints"))]
pub fn configure_failpoints_from_env() -> Result<usize, String> {
    Ok(0)
}
