//! End-to-end: `stormwatch hunt`'s prefilter accounting and the mail analysis caps.

use std::process::{Command, Output, Stdio};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run stormwatch")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const MAIL: &str = r#"{"CreationTime":"2023-06-01T01:00:00","Id":"m{N}","Operation":"MailItemsAccessed","OrganizationId":"T1","Workload":"Exchange","UserId":"bob@x.example","ClientIPAddress":"10.0.0.{N}"}"#;
const SEND: &str = r#"{"CreationTime":"2023-06-01T02:00:00","Id":"s1","Operation":"Send","OrganizationId":"T1","Workload":"Exchange","UserId":"bob@x.example"}"#;

fn logs(dir: &tempfile::TempDir) -> String {
    let mut text = String::new();
    for n in 1..=3 {
        text.push_str(&MAIL.replace("{N}", &n.to_string()));
        text.push('\n');
    }
    text.push_str(SEND);
    text.push('\n');
    let path = dir.path().join("ual.jsonl");
    std::fs::write(&path, text).expect("write logs");
    path.to_string_lossy().into_owned()
}

#[test]
fn prefiltered_lines_are_counted_as_read_and_evaluated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = logs(&dir);
    let o = run(&["hunt", "-f", "jsonl", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(
            "4 records read from 1 input: 3 parsed (3 of them narrowly, for the mail \
             analysis), 0 rejected, 1 prefiltered"
        ),
        "{e}"
    );
    assert!(e.contains("4 evaluated (1 by the prefilter alone"), "{e}");
    let o = run(&["hunt", "-f", "jsonl", "--no-prefilter", &path]);
    let e = stderr(&o);
    assert!(
        e.contains("4 records read from 1 input: 4 parsed, 0 rejected;"),
        "{e}"
    );
}

#[test]
fn mail_analysis_cap_says_how_many_records_it_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = logs(&dir);
    let o = run(&["hunt", "-f", "jsonl", "--max-mail-records", "1", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("cap reached: 2 MailItemsAccessed records after the first 1"),
        "{e}"
    );
    let o = run(&["hunt", "-f", "jsonl", &path]);
    assert!(!stderr(&o).contains("cap reached"), "{}", stderr(&o));
}

#[test]
fn signin_cap_says_how_many_signins_it_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let login = r#"{"CreationTime":"2023-06-01T0{H}:00:00","Id":"l{H}","Operation":"UserLoggedIn","OrganizationId":"T1","Workload":"AzureActiveDirectory","RecordType":15,"UserId":"bob@x.example","ClientIP":"10.0.0.{H}"}"#;
    let read = r#"{"CreationTime":"2023-06-01T03:00:00","Id":"m1","Operation":"MailItemsAccessed","OrganizationId":"T1","Workload":"Exchange","UserId":"bob@x.example","ClientIPAddress":"10.0.0.2"}"#;
    let text = format!(
        "{}\n{}\n{read}\n",
        login.replace("{H}", "1"),
        login.replace("{H}", "2")
    );
    let path = dir.path().join("ual.jsonl");
    std::fs::write(&path, text).expect("write logs");
    let path = path.to_string_lossy().into_owned();
    let without_signin = "with no Entra sign-in behind them";

    let o = run(&["hunt", "-f", "jsonl", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains(without_signin), "{out}");
    assert!(
        !stderr(&o).contains("sign-ins after the first"),
        "{}",
        stderr(&o)
    );

    // Only the first sign-in (from 10.0.0.1) is indexed: the read from 10.0.0.2 has none.
    let o = run(&["hunt", "-f", "jsonl", "--max-signins", "1", &path]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(without_signin), "{out}");
    assert!(
        stderr(&o)
            .contains("cap reached: 1 successful sign-ins after the first 1 were not indexed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unwritable_temporary_directory_is_reported_not_passed_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = logs(&dir);
    let o = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["hunt", "-f", "jsonl", &path])
        .env("TMPDIR", dir.path().join("missing"))
        .stdin(Stdio::null())
        .output()
        .expect("run stormwatch");
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("missing failed (")
            && e.contains("3 MailItemsAccessed records were not analysed"),
        "{e}"
    );
}
