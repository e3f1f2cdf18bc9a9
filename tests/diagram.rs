//! The space-time diagram (`faultlab run ... --plot FILE`): its structure
//! for pinned runs (lanes, arrows, crosses, bands counted in the SVG, not
//! pixels), the PNG's header and size, every scenario drawing without
//! error, and the flag's errors (exit 2).

use faultlab::cli::run_with_args;
use faultlab::plot::diagram::{diagram_of_run, to_svg, DiagramOptions, Drawn};
use faultlab::registry::Registry;
use faultlab::scenario::{RunOptions, Scenario};
use faultlab::time::SimTime;

fn load(path: &str) -> Scenario {
    Scenario::load_with(&Registry::builtin(), path).expect("scenario loads")
}

fn quiet() -> RunOptions {
    RunOptions {
        narrate: 0,
        ..RunOptions::default()
    }
}

/// The SVG and its counts for `path` with `seed` and `options`.
fn svg_of(path: &str, seed: u64, options: DiagramOptions) -> (String, Drawn) {
    let scenario = load(path);
    let (_, diagram) = diagram_of_run(&scenario, seed, quiet(), options).expect("a diagram");
    to_svg(&diagram).expect("drawn")
}

/// How many `<tag ...>` elements hold `attribute`.
fn count(svg: &str, tag: &str, attribute: &str) -> usize {
    svg.split('<')
        .filter(|e| e.starts_with(tag) && e.contains(attribute))
        .count()
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_args(&Registry::builtin(), args, &mut out, &mut err);
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (code, text(out), text(err))
}

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("faultlab-diagram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn raft_leader_crash_seed_1_window_has_its_lanes_arrows_crosses_and_bands() {
    use faultlab::plot::diagram::collect::BandKind;
    let options = DiagramOptions {
        from: SimTime(1_900_000_000),
        to: Some(SimTime(2_500_000_000)),
        ..DiagramOptions::default()
    };
    let (svg, drawn) = svg_of("scenarios/raft-leader-crash.toml", 1, options);
    // 5 servers and 3 clients; n2 (the leader) down from 2s, past the window.
    assert_eq!(drawn.lanes, 8);
    assert_eq!(drawn.bands, 1, "{drawn:?}");
    assert_eq!(
        drawn.arrows + drawn.crosses,
        drawn.messages_total,
        "all drawn in a window"
    );
    assert_eq!((drawn.arrows, drawn.crosses), (433, 19), "{drawn:?}");
    for name in ["n1", "n2", "n3", "n4", "n5", "c1", "c2", "c3"] {
        assert!(svg.contains(&format!("\n{name}\n</text>")), "lane {name}");
    }
    let heads = count(
        &svg,
        "polygon",
        &format!("fill=\"{}\"", hex(faultlab::plot::diagram::ARROW)),
    );
    let crosses = count(
        &svg,
        "polyline",
        &format!(
            "stroke=\"{}\" stroke-width=\"2\"",
            hex(faultlab::plot::diagram::DROPPED)
        ),
    );
    assert!(
        heads > 0 && heads <= drawn.arrows,
        "{heads} delivered heads of {}",
        drawn.arrows
    );
    assert_eq!(crosses, 2 * drawn.crosses, "two strokes per cross");
    let down = hex(faultlab::plot::diagram::band_color(BandKind::Down));
    assert_eq!(
        count(&svg, "rect", &format!("fill=\"{down}\"")),
        2,
        "the band and its legend swatch"
    );
    // The new leader's term is written on its lane.
    assert!(svg.contains("leader, term 2"), "the new leader is labelled");
    assert!(svg.contains("no violation found"));
}

#[test]
fn lease_pause_unfenced_marks_the_violation_and_the_pause() {
    let (svg, drawn) = svg_of(
        "scenarios/lease-pause-unfenced.toml",
        1,
        DiagramOptions::default(),
    );
    assert_eq!(drawn.lanes, 5);
    assert_eq!(drawn.bands, 1, "n3's pause: {drawn:?}");
    assert!(drawn.intervals > 2, "lease intervals: {drawn:?}");
    assert!(svg.contains("lost_update"), "the violation is named");
    assert!(
        svg.contains("violation lost_update at 5.001s"),
        "and explained"
    );
    let marks = count(
        &svg,
        "circle",
        &format!("stroke=\"{}\"", hex(faultlab::plot::diagram::VIOLATION)),
    );
    assert_eq!(marks, 2, "both nodes of the violation are circled");
    assert!(svg.contains("paused 3s"), "the pause band is labelled");
}

#[test]
fn beyond_the_cap_the_sample_is_deterministic_and_the_legend_says_so() {
    let options = DiagramOptions {
        max_messages: 100,
        ..DiagramOptions::default()
    };
    let (svg, drawn) = svg_of("scenarios/raft-leader-crash.toml", 1, options);
    assert_eq!(drawn.arrows + drawn.crosses, 100);
    assert!(
        svg.contains(&format!("showing 100 of {} messages", drawn.messages_total)),
        "legend"
    );
    let (again, _) = svg_of("scenarios/raft-leader-crash.toml", 1, options);
    assert_eq!(svg, again, "the same picture twice");
}

#[test]
fn png_decodes_with_the_svgs_size() {
    let path = temp("crash.png");
    let (code, out, err) = cli(&[
        "run",
        "scenarios/raft-leader-crash.toml",
        "--seed",
        "1",
        "--narrate",
        "0",
        "--plot",
        &path,
        "--from",
        "1.9s",
        "--to",
        "2.5s",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("diagram written to {path} (8 lanes")),
        "{out}"
    );
    let bytes = std::fs::read(&path).expect("the PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("the image decodes");
    let options = DiagramOptions {
        from: SimTime(1_900_000_000),
        to: Some(SimTime(2_500_000_000)),
        ..DiagramOptions::default()
    };
    let (svg, _) = svg_of("scenarios/raft-leader-crash.toml", 1, options);
    let size = format!("width=\"{}\" height=\"{}\"", info.width, info.height);
    assert_eq!(info.width, 1600);
    assert!(svg.contains(&size), "PNG {size}, SVG {}", &svg[..200]);
    assert!(pixels.iter().any(|&b| b < 100), "something dark is drawn");
}

#[test]
fn every_scenario_draws_its_first_three_seconds() {
    let mut names: Vec<_> = std::fs::read_dir("scenarios")
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    assert!(names.len() > 60, "{} scenarios", names.len());
    for path in names {
        let path = path.to_string_lossy().into_owned();
        let mut scenario = load(&path);
        // Debug builds are slow: the first 3 s hold most scenarios' faults.
        scenario.duration = scenario
            .duration
            .min(faultlab::time::SimDuration(3_000_000_000));
        let (_, diagram) = diagram_of_run(
            &scenario,
            scenario.default_seed,
            quiet(),
            DiagramOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        let (svg, drawn) = to_svg(&diagram).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(drawn.lanes, scenario.names.len(), "{path}");
        assert!(
            svg.ends_with("</svg>\n") || svg.ends_with("</svg>"),
            "{path}"
        );
    }
}

#[test]
fn a_bad_window_or_path_is_exit_2_and_writes_nothing() {
    let path = temp("bad.svg");
    let base = [
        "run",
        "scenarios/raft-leader-crash.toml",
        "--narrate",
        "0",
        "--plot",
    ];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.push(&path);
        args.extend_from_slice(extra);
        cli(&args)
    };
    let (code, _, err) = with(&["--from", "2.5s", "--to", "1.9s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected --from before --to"), "{err}");
    let (code, _, err) = with(&["--from", "9s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("after the run's end (7.000s)"), "{err}");
    let (code, _, err) = with(&["--from", "soon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from"), "{err}");
    assert!(!std::path::Path::new(&path).exists(), "no file on an error");
    let (code, _, err) = cli(&["run", "scenarios/raft-leader-crash.toml", "--from", "1s"]);
    assert_eq!(code, 2, "--from needs --plot: {err}");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/lease-pause-unfenced.toml",
        "--narrate",
        "0",
        "--plot",
        "/nonexistent-dir/x.svg",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--plot /nonexistent-dir/x.svg: cannot create the file"),
        "{err}"
    );
}

#[test]
fn a_window_past_the_end_is_cut_at_the_end() {
    let path = temp("late.svg");
    let (code, out, err) = cli(&[
        "run",
        "scenarios/lease-pause-unfenced.toml",
        "--narrate",
        "0",
        "--plot",
        &path,
        "--from",
        "4.9s",
        "--to",
        "60s",
    ]);
    assert_eq!(code, 3, "the scenario's violation: {out}{err}");
    let svg = std::fs::read_to_string(&path).expect("written");
    assert!(
        svg.contains("4.900s to 5.001s"),
        "the title names the window"
    );
}

#[test]
fn raft_leader_crash_window_notes_commit_indexes_and_shows_the_candidate() {
    use faultlab::plot::diagram::collect::Role;
    use faultlab::plot::diagram::{role_color, NOTE};
    let options = DiagramOptions {
        from: SimTime(1_900_000_000),
        to: Some(SimTime(2_500_000_000)),
        ..DiagramOptions::default()
    };
    let scenario = load("scenarios/raft-leader-crash.toml");
    let (_, diagram) = diagram_of_run(&scenario, 1, quiet(), options).expect("a diagram");
    // Every note is a server's commit index, from Raft's lane_note.
    let notes = &diagram.shapes.notes;
    assert!(notes
        .iter()
        .all(|n| n.lane < 5 && n.text.starts_with('c') && n.text[1..].parse::<u64>().is_ok()));
    // n4 stands for term 2 after n2's crash at 2s, then leads it.
    let candidates: Vec<_> = diagram
        .shapes
        .roles
        .iter()
        .filter(|r| r.role == Role::Candidate)
        .map(|r| (r.lane, r.term))
        .collect();
    assert_eq!(candidates, vec![(3, Some(2))]);
    let (svg, drawn) = to_svg(&diagram).expect("drawn");
    assert_eq!(
        (drawn.notes, drawn.notes_total),
        (NOTES_DRAWN, NOTES_IN_WINDOW),
        "{drawn:?}"
    );
    assert_eq!(notes.len(), NOTES_IN_WINDOW, "all kept under the cap");
    let note = hex(NOTE);
    assert_eq!(
        count(&svg, "polyline", &format!("stroke=\"{note}\"")),
        drawn.notes,
        "one tick per note"
    );
    assert_eq!(
        count(&svg, "text", &format!("fill=\"{note}\"")),
        drawn.notes,
        "one text per note"
    );
    // Of a crowd the latest shows: n2 reached 203 just before its crash
    // (the others only commit 203 with n4's 204, at the same moment).
    assert_eq!(svg.matches(">\nc203\n</text>").count(), 1, "n2's last");
    assert!(
        svg.contains(">\nc204\n</text>"),
        "n4's first commit as leader"
    );
    assert!(
        svg.contains(&format!(
            "lane note (showing {NOTES_DRAWN} of {NOTES_IN_WINDOW}, thinned where they would overlap)"
        )),
        "the legend says some were left out"
    );
    let candidate = hex(role_color(Role::Candidate));
    assert_eq!(
        count(&svg, "rect", &format!("fill=\"{candidate}\"")),
        2,
        "n4's candidate span and its legend swatch"
    );
}

/// Commit notes in raft-leader-crash seed 1 from 1.9s to 2.5s, and how
/// many of them fit without overlapping.
const NOTES_IN_WINDOW: usize = 180;
const NOTES_DRAWN: usize = 62;

#[test]
fn lease_notes_tell_the_grants_and_the_tokens_the_storage_accepts() {
    let scenario = load("scenarios/lease-pause-unfenced.toml");
    let (_, diagram) =
        diagram_of_run(&scenario, 1, quiet(), DiagramOptions::default()).expect("a diagram");
    let notes: Vec<_> = diagram
        .shapes
        .notes
        .iter()
        .map(|n| (diagram.names[n.lane as usize].as_str(), n.text.as_str()))
        .collect();
    // n1 grants to n3 (token 1), then to n5 (token 2) while n3 is paused;
    // the storage takes token 1, then 2, then n3's stale write with 1.
    assert_eq!(
        notes,
        vec![
            ("n1", "n3 t1"),
            ("n2", "w t1"),
            ("n1", "n5 t2"),
            ("n2", "w t2"),
            ("n2", "w t1"),
        ]
    );
    let (_, drawn) = to_svg(&diagram).expect("drawn");
    assert_eq!((drawn.notes, drawn.notes_total), (5, 5));
}

#[test]
fn primary_backup_colours_the_primary_by_its_own_lane_role() {
    use faultlab::plot::diagram::collect::Role;
    // n1 is primary of epoch 1 until it crashes at 2.472s; n2 is promoted
    // to epoch 2 at 2.8s (the run ends there, on the lost write). The
    // model's `lane_role` reads its `promoted` records: no Raft kinds.
    let scenario = load("scenarios/pb-async-failover.toml");
    let (_, diagram) =
        diagram_of_run(&scenario, 1, quiet(), DiagramOptions::default()).expect("a diagram");
    let leaders: Vec<_> = diagram
        .shapes
        .roles
        .iter()
        .filter(|r| r.role == Role::Leader)
        .map(|r| (r.lane, r.term))
        .collect();
    assert_eq!(leaders.first(), Some(&(0, Some(1))), "{leaders:?}");
    assert!(leaders.contains(&(1, Some(2))), "{leaders:?}");
    // The crash ends n1's span.
    let n1 = diagram.shapes.roles.iter().find(|r| r.lane == 0).unwrap();
    assert!(
        (SimTime(2_472_000_000)..SimTime(2_473_000_000)).contains(&n1.end),
        "{n1:?}"
    );
}
