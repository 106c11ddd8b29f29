//! Watched directories below HTTP: a file is read once it is stable, taken exactly once (also
//! under another name and after a restart), a malformed file is refused naming its line and
//! left alone, and in-progress names (`.part`, hidden) are passed over.

use std::path::Path;
use stormwatch_server::serve::config::ServeConfig;
use stormwatch_server::serve::watch::Outcome;
use stormwatch_server::serve::State;

const OPS: &str = "sw_ops_0123456789abcdef0123456789";

fn open(dir: &Path, tenants: &[String]) -> State {
    let mut text = format!(
        "data_dir = \"data\"\n[[watch]]\ndir = \"inbox\"\n[[watch]]\ndir = \"inbox-a\"\ntenant = \"{}\"\n",
        tenants[0]
    );
    for t in tenants {
        text += &format!("[[tenants]]\nid = \"{t}\"\n");
    }
    text += &format!("[[api_keys]]\nname = \"ops\"\nrole = \"operator\"\nkey = \"{OPS}\"\n");
    let config = ServeConfig::from_toml(&text, "t.toml", dir, &|_| None).unwrap();
    State::open(config).unwrap().0
}

fn stored(state: &State, tenant: &str) -> usize {
    state.store.events(tenant, 0, 1_000_000).unwrap().len()
}

#[test]
fn watched_files_are_taken_once_when_stable_and_bad_ones_refused_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let m = stormwatch_scenario::generate_to_dir(
        &stormwatch_scenario::Config {
            tenants: 2,
            users_per_tenant: 4,
            days: 3,
            ..stormwatch_scenario::Config::default()
        },
        &corpus,
        false,
    )
    .unwrap();
    let (a, b) = (&m.tenants[0], &m.tenants[1]);
    let inbox = tmp.path().join("inbox");
    let inbox_a = tmp.path().join("inbox-a");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&inbox_a).unwrap();
    let ual = std::fs::read_to_string(corpus.join("ual.jsonl")).unwrap();
    let of = |t: &str| -> Vec<&str> { ual.lines().filter(|l| l.contains(t)).collect() };
    let (a_lines, b_lines) = (of(a), of(b));

    let state = open(tmp.path(), &m.tenants);
    std::fs::write(inbox.join("b.jsonl"), b_lines.join("\n")).unwrap();
    std::fs::write(inbox.join("b.jsonl.part"), "not yet").unwrap();
    std::fs::write(inbox.join(".hidden.jsonl"), "{").unwrap();
    // First look: new files are only noted; second: stable, taken.
    assert!(state.watcher.look(&state).is_empty());
    let took = state.watcher.look(&state);
    assert_eq!(took, [Outcome::Taken(inbox.join("b.jsonl"), b_lines.len())]);
    assert_eq!(stored(&state, b), b_lines.len());
    assert!(
        state.watcher.look(&state).is_empty(),
        "settled files are not read again"
    );

    // The same content under another name is recognised.
    std::fs::copy(inbox.join("b.jsonl"), inbox.join("b-copy.jsonl")).unwrap();
    state.watcher.look(&state);
    assert_eq!(
        state.watcher.look(&state),
        [Outcome::Duplicate(inbox.join("b-copy.jsonl"))]
    );
    assert_eq!(stored(&state, b), b_lines.len());

    // A file still being written is taken only once it stops changing.
    let half = a_lines.len() / 2;
    let growing = inbox_a.join("a.jsonl");
    std::fs::write(&growing, a_lines[..half].join("\n") + "\n").unwrap();
    assert!(state.watcher.look(&state).is_empty());
    std::fs::write(&growing, a_lines.join("\n")).unwrap();
    assert!(
        state.watcher.look(&state).is_empty(),
        "changed since the last look"
    );
    assert_eq!(
        state.watcher.look(&state),
        [Outcome::Taken(growing.clone(), a_lines.len())]
    );

    // A malformed file, and a tenant-bound watch given another tenant's record: refused once,
    // naming the file and line; nothing of them kept.
    let bad = inbox.join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"broken\": \n", b_lines[0])).unwrap();
    let foreign = inbox_a.join("foreign.jsonl");
    std::fs::write(&foreign, b_lines[1]).unwrap();
    state.watcher.look(&state);
    let refused = state.watcher.look(&state);
    assert_eq!(refused.len(), 2, "{refused:?}");
    for o in &refused {
        let Outcome::Refused(p, why) = o else {
            panic!("{o:?}")
        };
        if p == &bad {
            assert!(why.contains(&format!("{}:2:", bad.display())), "{why}");
        } else {
            assert_eq!(p, &foreign);
            assert!(why.contains("not for that tenant"), "{why}");
        }
    }
    assert!(state.watcher.look(&state).is_empty(), "reported once");
    assert_eq!(stored(&state, b), b_lines.len());
    assert_eq!(stored(&state, a), a_lines.len());
    drop(state);

    // After a restart nothing already taken is taken again.
    let state = open(tmp.path(), &m.tenants);
    state.watcher.look(&state);
    let again = state.watcher.look(&state);
    assert!(
        again
            .iter()
            .all(|o| matches!(o, Outcome::Duplicate(_) | Outcome::Refused(..))),
        "{again:?}"
    );
    assert_eq!(stored(&state, b), b_lines.len());
    assert_eq!(stored(&state, a), a_lines.len());
}
