//! Helpers for tests that use OpenSSL as an independent peer.

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory removed when dropped.
pub(crate) struct TempDir {
    dir: tempfile::TempDir,
}

impl TempDir {
    pub(crate) fn new(prefix: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("certdesk-pki-{prefix}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir { dir }
    }

    /// Path of `name` inside the directory, as a string for command lines.
    pub(crate) fn path(&self, name: &str) -> String {
        let path: PathBuf = self.dir.path().join(name);
        path.to_string_lossy().into_owned()
    }

    pub(crate) fn write(&self, name: &str, contents: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

/// Output of an `openssl` run that is expected to succeed; panics with its stderr otherwise.
pub(crate) fn openssl(args: &[&str]) -> String {
    let (ok, stdout, stderr) = openssl_status(args);
    assert!(ok, "openssl {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs `openssl` and returns (success, stdout, stderr).
pub(crate) fn openssl_status(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Verifies an SM2-with-SM3 signature with OpenSSL directly, ID 1234567812345678: the way to
/// have OpenSSL check signatures it cannot be given the ID for in `verify`/`crl` (a root's
/// self-signature, CRLs). Returns OpenSSL's verdict.
pub(crate) fn openssl_sm2_verify_raw(
    dir: &TempDir,
    public_key: &spki::SubjectPublicKeyInfoOwned,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use der::EncodePem;
    let key_pem = public_key
        .to_pem(der::pem::LineEnding::LF)
        .expect("public key PEM");
    let key = dir.write("sm2-raw-pub.pem", key_pem.as_bytes());
    let msg = dir.write("sm2-raw-msg.der", message);
    let sig = dir.write("sm2-raw-sig.der", signature);
    let (ok, stdout, _) = openssl_status(&[
        "pkeyutl",
        "-verify",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        "distid:1234567812345678",
        "-pubin",
        "-inkey",
        key.as_str(),
        "-sigfile",
        sig.as_str(),
        "-in",
        msg.as_str(),
    ]);
    ok && stdout.contains("Signature Verified Successfully")
}

/// How the project's test script installs pkilint; named in the panic when it is missing.
const PKILINT_INSTALL: &str = "python3 -m venv /tmp/pkilint-venv && \
/tmp/pkilint-venv/bin/pip install pkilint (or point PKILINT_BIN_DIR at a directory holding \
lint_pkix_cert, lint_crl and lint_ocsp_response)";

/// Path of a pkilint command (`lint_pkix_cert`, `lint_crl`, `lint_ocsp_response`):
/// `$PKILINT_BIN_DIR`, then the venv that the project's setup makes, then PATH.
///
/// Panics when pkilint is not installed: a lint that silently does not run would let
/// findings through, so its absence fails the test instead of skipping it.
pub(crate) fn pkilint(command: &str) -> String {
    let dirs = [
        std::env::var("PKILINT_BIN_DIR").ok(),
        Some("/tmp/pkilint-venv/bin".to_string()),
    ];
    for dir in dirs.into_iter().flatten() {
        let path = std::path::Path::new(&dir).join(command);
        if path.is_file() {
            return path.to_string_lossy().into_owned();
        }
    }
    let on_path = Command::new(command).arg("--help").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return command.to_string();
    }
    panic!(
        "pkilint's {command} is not installed (looked in $PKILINT_BIN_DIR, \
         /tmp/pkilint-venv/bin and PATH); install it with: {PKILINT_INSTALL}"
    );
}

/// pkilint's findings of `min_severity` or worse, one trimmed line each (pkilint indents
/// findings under the validator that made them; empty when clean).
pub(crate) fn pkilint_finding_lines(bin: &str, args: &[&str]) -> Vec<String> {
    pkilint_findings(bin, args)
        .lines()
        .filter(|l| l.starts_with(' ') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// pkilint's text output: its findings of the severity asked for or worse (empty when clean).
///
/// pkilint exits non-zero both when it finds something and when it cannot read the document;
/// the second prints nothing on stdout, and must fail the test rather than pass as clean.
fn pkilint_findings(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().expect("run pkilint");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() || !stdout.trim().is_empty(),
        "pkilint {args:?} failed without findings ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[cfg(test)]
mod tests {
    /// A missing linter fails the test with the way to install it, instead of skipping.
    #[test]
    #[should_panic(expected = "PKILINT_BIN_DIR")]
    fn missing_pkilint_is_a_failure_naming_the_fix() {
        super::pkilint("lint_certdesk_nonexistent");
    }

    /// A document pkilint cannot read is a failure, not an empty (clean) report.
    #[test]
    #[should_panic(expected = "failed without findings")]
    fn an_unreadable_document_is_not_clean() {
        let dir = super::TempDir::new("pkilint-unreadable");
        let path = dir.write("garbage.pem", b"not a certificate");
        super::pkilint_finding_lines(
            &super::pkilint("lint_pkix_cert"),
            &["lint", "-s", "NOTICE", path.as_str()],
        );
    }
}
