//! `faultlab report` pages opened in a real browser: headless Chromium,
//! driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`,
//! commands on fd 3, replies on fd 4), loads the page and this test asserts
//! that it raised no console error, no uncaught exception and no failed load,
//! that the inline SVG diagram is there with a size, and that every
//! `href="#..."` link lands on an element of the page.
//!
//! The detector is checked first on a canary page that does raise an error
//! and load a missing image: a test that could not see errors would prove
//! nothing.
//!
//! Chromium is looked up as `$FAULTLAB_CHROMIUM`, then `chromium` and
//! `chromium-browser` on the PATH. Without it the tests say so and pass,
//! unless `FAULTLAB_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs
//! Debian's `chromium`), when they fail.

use faultlab::cli::run_with_args;
use faultlab::registry::Registry;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long one page may take to load and answer (a hang fails the test).
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser, or `None` (with the reason printed) when the test may skip.
fn chromium() -> Option<PathBuf> {
    let required = std::env::var("FAULTLAB_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let candidates: Vec<PathBuf> = match std::env::var_os("FAULTLAB_CHROMIUM") {
        Some(path) => vec![PathBuf::from(path)],
        None => std::env::var_os("PATH")
            .map(|paths| {
                std::env::split_paths(&paths)
                    .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
                    .collect()
            })
            .unwrap_or_default(),
    };
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !required,
            "FAULTLAB_REQUIRE_BROWSER=1 but no chromium (set FAULTLAB_CHROMIUM or install Debian's chromium)"
        );
        eprintln!("skipped: no chromium on the PATH (FAULTLAB_CHROMIUM unset)");
    }
    found
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultlab-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// What the browser saw of one page.
#[derive(Debug)]
struct PageReport {
    /// Console errors, uncaught exceptions and failed loads, one line each.
    errors: Vec<String>,
    /// The answer of the page probe (see [`PROBE`]).
    probe: Value,
}

/// Evaluated in the loaded page: the inline SVGs and their rendered sizes,
/// and the `#...` links whose target is missing.
const PROBE: &str = r##"(() => {
  const svgs = [...document.querySelectorAll('svg')].map(s => {
    const r = s.getBoundingClientRect();
    return { width: r.width, height: r.height, children: s.querySelectorAll('*').length };
  });
  const links = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'));
  const broken = links.filter(h => !document.getElementById(h.slice(1)));
  return { svgs, links: links.length, broken, title: document.title };
})()"##;

/// A DevTools-protocol session with one headless Chromium over a pipe.
struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
}

impl Browser {
    fn launch(chromium: &Path, profile: &Path) -> Browser {
        // The shell moves the pipes to where Chromium wants them: our stdin
        // pipe becomes its fd 3 (commands), our stdout pipe its fd 4.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 </dev/null >/dev/null")
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let commands = child.stdin.take().expect("fd 3");
        let replies = child.stdout.take().expect("fd 4");
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(replies);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(message) = serde_json::from_slice::<Value>(&buf) {
                    if send.send(message).is_err() {
                        return;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            commands,
            messages,
            next_id: 0,
        }
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> u64 {
        self.next_id += 1;
        let mut message = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium reads commands");
        self.next_id
    }

    /// The next message before `deadline`; panics on a hang.
    fn next(&self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("chromium: no answer in time ({waiting_for})"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium exited ({waiting_for})"),
        }
    }

    /// Sends a command and waits for its result; events that arrive
    /// meanwhile go to `events`.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
        events: &mut Vec<Value>,
    ) -> Value {
        let id = self.send(method, params, session);
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let message = self.next(deadline, method);
            if message["id"] == json!(id) {
                assert!(
                    message.get("error").is_none(),
                    "{method} failed: {}",
                    message["error"]
                );
                return message["result"].clone();
            }
            events.push(message);
        }
    }

    /// Loads `page` in a new tab and reports what went wrong on it.
    fn open(&mut self, page: &Path) -> PageReport {
        let mut events = Vec::new();
        let target = self.call(
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            None,
            &mut events,
        );
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
            None,
            &mut events,
        );
        let session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        let s = Some(session.as_str());
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
            "Network.enable",
        ] {
            self.call(domain, json!({}), s, &mut events);
        }
        let url = format!("file://{}", page.display());
        self.call("Page.navigate", json!({ "url": url }), s, &mut events);
        let deadline = Instant::now() + PAGE_TIMEOUT;
        while !events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired" && e["sessionId"] == json!(session))
        {
            events.push(self.next(deadline, "Page.loadEventFired"));
        }
        let probe = self.call(
            "Runtime.evaluate",
            json!({ "expression": PROBE, "returnByValue": true }),
            s,
            &mut events,
        );
        // Let late console messages of the load arrive.
        let settle = Instant::now() + Duration::from_millis(300);
        while let Ok(message) = self
            .messages
            .recv_timeout(settle.saturating_duration_since(Instant::now()))
        {
            events.push(message);
        }
        let errors = events
            .iter()
            .filter(|e| e["sessionId"] == json!(session))
            .filter_map(problem)
            .collect();
        PageReport {
            errors,
            probe: probe["result"]["value"].clone(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.send("Browser.close", json!({}), None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line for an event that means the page has a problem.
fn problem(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled"
            if matches!(params["type"].as_str(), Some("error" | "assert")) =>
        {
            Some(format!("console.{}: {}", params["type"], params["args"]))
        }
        "Runtime.exceptionThrown" => Some(format!(
            "uncaught: {}",
            params["exceptionDetails"]["exception"]["description"]
        )),
        "Log.entryAdded" if params["entry"]["level"] == "error" => {
            Some(format!("log: {}", params["entry"]["text"]))
        }
        "Network.loadingFailed" => Some(format!("failed load: {}", params["errorText"])),
        _ => None,
    }
}

#[test]
fn the_detector_sees_a_console_error_an_exception_and_a_missing_image() {
    let Some(chromium) = chromium() else { return };
    let dir = temp_dir();
    let page = dir.join("canary.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>canary</p><img src=\"missing.png\">\
         <script>console.error('canary-error'); nosuch();</script></body></html>",
    )
    .expect("write canary");
    let mut browser = Browser::launch(&chromium, &dir.join("profile-canary"));
    let report = browser.open(&page);
    let all = report.errors.join("\n");
    eprintln!("canary: {all}");
    assert!(all.contains("canary-error"), "console.error seen: {all}");
    assert!(all.contains("nosuch"), "the exception seen: {all}");
    assert!(
        all.contains("missing.png") || all.contains("ERR_FILE_NOT_FOUND"),
        "the missing image seen: {all}"
    );
}

fn report_page(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let path_text = path.to_string_lossy().into_owned();
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", &path_text]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_args(&Registry::builtin(), &all, &mut out, &mut err);
    assert!(
        code == 0 || code == 3,
        "report exit {code}: {}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    path
}

fn assert_clean_page_with_diagram(report: &PageReport, what: &str) {
    eprintln!("{what}: {}", report.probe);
    assert!(
        report.errors.is_empty(),
        "{what}: errors in the browser: {:#?}",
        report.errors
    );
    let svgs = report.probe["svgs"].as_array().expect("probe answered");
    assert_eq!(
        svgs.len(),
        1,
        "{what}: one inline diagram: {}",
        report.probe
    );
    let svg = &svgs[0];
    assert!(
        svg["width"].as_f64().unwrap_or(0.0) > 300.0
            && svg["height"].as_f64().unwrap_or(0.0) > 100.0,
        "{what}: the diagram is laid out with a size: {svg}"
    );
    assert!(
        svg["children"].as_u64().unwrap_or(0) > 50,
        "{what}: the diagram has its shapes: {svg}"
    );
    assert_eq!(
        report.probe["broken"],
        json!([]),
        "{what}: every #link has its target"
    );
}

#[test]
fn a_lease_violation_report_loads_clean_with_its_diagram_and_links() {
    let Some(chromium) = chromium() else { return };
    let dir = temp_dir();
    let page = report_page(
        &dir,
        "lease.html",
        &["scenarios/lease-pause-unfenced.toml", "--seed", "1"],
    );
    let mut browser = Browser::launch(&chromium, &dir.join("profile-lease"));
    let report = browser.open(&page);
    assert_clean_page_with_diagram(&report, "lease-pause-unfenced");
    assert!(
        report.probe["links"].as_u64().unwrap_or(0) >= 2,
        "the violation is linked: {}",
        report.probe
    );
}

#[test]
fn a_passing_raft_report_loads_clean() {
    let Some(chromium) = chromium() else { return };
    let dir = temp_dir();
    let page = report_page(
        &dir,
        "raft.html",
        &[
            "scenarios/raft-leader-crash.toml",
            "--seed",
            "1",
            "--from",
            "1.9s",
            "--to",
            "2.5s",
        ],
    );
    let mut browser = Browser::launch(&chromium, &dir.join("profile-raft"));
    let report = browser.open(&page);
    assert_clean_page_with_diagram(&report, "raft-leader-crash");
}
