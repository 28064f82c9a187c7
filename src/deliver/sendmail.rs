//! Delivery through a local sendmail-compatible program (sendmail, msmtp, postfix's sendmail).
//!
//! The message is piped to `<command> -i -f <from> -- <recipients>`; the exit status decides
//! success, and sysexits codes decide whether a failure is transient.

use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::{DeliverError, EmailContent, build_message};

/// How much of sendmail's stderr is kept in the error.
const STDERR_KEPT: usize = 2000;

/// Pipes the digest email to `command -i -f <from> -- <to...>`.
pub async fn send_sendmail(
    command: &Path,
    from: &str,
    to: &[String],
    c: &EmailContent,
) -> Result<(), DeliverError> {
    let message = build_message(from, to, c)?;
    let envelope = message.envelope();
    let raw = message.formatted();
    let mut cmd = tokio::process::Command::new(command);
    cmd.arg("-i");
    if let Some(f) = envelope.from() {
        cmd.arg("-f").arg(f);
    }
    cmd.arg("--");
    for r in envelope.to() {
        cmd.arg(r);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let spawn_err = |source| DeliverError::SendmailSpawn {
        command: command.to_path_buf(),
        source,
    };
    tracing::debug!(command = %command.display(), recipients = to.len(), "running sendmail");
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that exits early closes the pipe; its exit status tells the story.
        let written = stdin.write_all(&raw).await;
        let flushed = stdin.shutdown().await;
        drop(stdin);
        if let Err(e) = written.and(flushed) {
            tracing::debug!(error = %e, "writing to sendmail's stdin failed");
        }
    }
    let out = child.wait_with_output().await.map_err(spawn_err)?;
    if out.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.len() > STDERR_KEPT {
        let cut = (0..=STDERR_KEPT)
            .rev()
            .find(|&i| stderr.is_char_boundary(i))
            .unwrap_or(0);
        stderr.truncate(cut);
        stderr.push('…');
    }
    Err(DeliverError::SendmailFailed {
        command: command.to_path_buf(),
        code: out.status.code(),
        status: out.status.to_string(),
        stderr,
    })
}
