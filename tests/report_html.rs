//! `faultlab report`: one self-contained HTML page for a run (the
//! description, the inline SVG diagram, the violation anchored and linked,
//! the reproduce command), no external resources, text escaped, and exit 2
//! for a bad scenario.

use faultlab::cli::run_with_args;
use faultlab::registry::Registry;

fn cli(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (code, text(out), text(err))
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultlab-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name).to_string_lossy().into_owned()
}

/// The values of every `attribute="..."` in the page's tags.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            &rest[..rest.find('"').expect("closed attribute")]
        })
        .collect()
}

#[test]
fn lease_pause_unfenced_seed_1_is_one_self_contained_page() {
    let path = temp("lease.html");
    let (code, out, err) = cli(&[
        "report",
        "scenarios/lease-pause-unfenced.toml",
        "--seed",
        "1",
        "-o",
        &path,
    ]);
    assert_eq!(code, 3, "a violation is exit 3 like `run`: {out}{err}");
    assert!(out.contains("report written to"), "{out}");
    let html = std::fs::read_to_string(&path).expect("the report exists");
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
    assert_eq!(html.matches("<svg").count(), 1, "one inline diagram");
    assert!(!html.contains("<?xml"), "no XML declaration inside HTML");
    // The description, escaped (it holds apostrophes).
    assert!(html.contains("Kleppmann&#39;s lease story, without fencing."));
    assert!(html.contains("model <b>lease</b>"));
    assert!(
        html.contains("id=\"violation-1\""),
        "the violation is anchored"
    );
    assert!(html.contains("href=\"#violation-1\""), "and linked");
    assert!(html.contains("lost_update"));
    assert!(
        html.contains("cargo run --release -- run scenarios/lease-pause-unfenced.toml --seed 1")
    );
    // The narration `run` prints, and the checks.
    assert!(html.contains("n3 resumes"), "narrated events");
    assert!(html.contains("<td>no_lost_update</td>"));
    // Nothing loads from elsewhere: no scripts, style sheets, fonts or images.
    assert!(!html.contains("<script"));
    assert!(!html.contains("<link"));
    assert!(!html.contains("@import") && !html.contains("url("));
    for attribute in ["src", "href"] {
        for value in attribute_values(&html, attribute) {
            assert!(
                value.starts_with('#'),
                "{attribute}=\"{value}\" is not in the page"
            );
        }
    }
    assert!(!std::path::Path::new(&format!("{path}.tmp")).exists());
}

#[test]
fn a_passing_run_is_exit_0_with_its_window_and_no_violations() {
    let path = temp("fenced.html");
    let (code, out, err) = cli(&[
        "report",
        "scenarios/lease-pause-fenced.toml",
        "--from",
        "4s",
        "--to",
        "5.5s",
        "-o",
        &path,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let html = std::fs::read_to_string(&path).expect("the report exists");
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(html.contains("<figcaption>4.000s to 5.500s</figcaption>"));
    assert!(!html.contains("violation-1"));
    assert!(html.contains("report scenarios/lease-pause-fenced.toml --seed 1 -o"));
}

#[test]
fn text_from_the_scenario_is_escaped() {
    let original = std::fs::read_to_string("scenarios/lease-pause-unfenced.toml").unwrap();
    let start = original.find("description = \"\"\"").unwrap();
    let end = start + 3 + original[start + 3..].find("\"\"\"\n").unwrap() + 4;
    let end = end + original[end..].find("\"\"\"").unwrap() + 4;
    let hostile = format!(
        "{}description = \"a <script>alert(1)</script> & <b>bold</b> story\"\n{}",
        &original[..start],
        &original[end..]
    );
    let scenario = temp("hostile.toml");
    std::fs::write(&scenario, hostile).unwrap();
    let path = temp("hostile.html");
    let (code, out, err) = cli(&["report", &scenario, "-o", &path]);
    assert_eq!(code, 3, "{out}{err}");
    let html = std::fs::read_to_string(&path).expect("the report exists");
    assert!(html
        .contains("a &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; story"));
    assert!(!html.contains("<script"));
}

#[test]
fn a_bad_scenario_path_is_exit_2_and_writes_nothing() {
    let path = temp("missing.html");
    let (code, _, err) = cli(&["report", "scenarios/no-such-file.toml", "-o", &path]);
    assert_eq!(code, 2);
    assert!(err.contains("no-such-file.toml"), "{err}");
    assert!(!std::path::Path::new(&path).exists());
    let (code, _, err) = cli(&[
        "report",
        "scenarios/lease-pause-unfenced.toml",
        "--from",
        "3s",
        "--to",
        "2s",
        "-o",
        &path,
    ]);
    assert_eq!(code, 2, "an empty window: {err}");
    assert!(!std::path::Path::new(&path).exists());
}
