//! Lays a [`Diagram`] out and draws it with plotters, on any backend; saves
//! it as SVG, or as PNG when the file name ends in `.png` (written whole or
//! not at all, through [`crate::report::atomic::AtomicFile`]).
//!
//! Each kind of shape has its own colour (see the constants), so a test can
//! count arrows, crosses and bands in the SVG text.
//!
//! Lane notes ([`crate::Model::lane_note`]) are thinned here, where their
//! width is known: on each lane, from the right, a note that would overlap
//! the one kept after it is left out, so of a crowd the latest (the value
//! reached) shows; the legend says how many are shown. Lanes narrower than
//! [`NOTE_LANE`] pixels show none.

use super::collect::{BandKind, Fate, Note, Outcome, Role};
use super::Diagram;
use crate::plot::{register_fonts, FONT};
use crate::report::atomic::AtomicFile;
use crate::time::SimTime;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::io::Write;

/// The picture's width in pixels.
pub const WIDTH: u32 = 1600;
const LEFT: i32 = 90;
const RIGHT: i32 = 30;
const TITLE: i32 = 30;
const LEGEND_ROW: i32 = 20;
const AXIS: i32 = 34;
const CAPTION_LINE: i32 = 16;

/// Delivered arrows (their heads are filled with it).
pub const ARROW: RGBColor = RGBColor(0x2e, 0x5c, 0x8a);
/// Second copies of duplicated messages.
pub const DUPLICATE: RGBColor = RGBColor(0x8e, 0x44, 0xad);
/// Dropped messages and their crosses.
pub const DROPPED: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
/// Messages still travelling at the end.
pub const IN_FLIGHT: RGBColor = RGBColor(0x7f, 0x8c, 0x8d);
/// The violation's mark.
pub const VIOLATION: RGBColor = RGBColor(0xe6, 0x00, 0x00);
/// Lane notes: their ticks and text.
pub const NOTE: RGBColor = RGBColor(0x0b, 0x53, 0x45);
/// The least lane height, in pixels, that shows notes.
pub const NOTE_LANE: i32 = 18;

/// What was drawn, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Lanes.
    pub lanes: usize,
    /// Arrows with a head (delivered, duplicated, in flight).
    pub arrows: usize,
    /// Arrows ending in a cross (dropped).
    pub crosses: usize,
    /// Fault bands.
    pub bands: usize,
    /// Role spans.
    pub roles: usize,
    /// Recorded intervals.
    pub intervals: usize,
    /// Client operation bars.
    pub ops: usize,
    /// Clock-jump marks.
    pub marks: usize,
    /// Message copies in the window (drawn or not).
    pub messages_total: usize,
    /// Lane notes drawn.
    pub notes: usize,
    /// Lane notes in the window (drawn or not).
    pub notes_total: usize,
}

/// The colour of a fault band.
pub fn band_color(kind: BandKind) -> RGBColor {
    match kind {
        BandKind::Down => RGBColor(0x2c, 0x2c, 0x2c),
        BandKind::Paused => RGBColor(0x9b, 0x59, 0xb6),
        BandKind::CutOff => RGBColor(0xe7, 0x4c, 0x3c),
        BandKind::Link => RGBColor(0x16, 0xa0, 0x85),
        BandKind::Knob => RGBColor(0x27, 0xae, 0x60),
        BandKind::LossBurst => RGBColor(0xe6, 0x7e, 0x22),
    }
}

fn band_name(kind: BandKind) -> &'static str {
    match kind {
        BandKind::Down => "down (crashed)",
        BandKind::Paused => "paused",
        BandKind::CutOff => "cut off",
        BandKind::Link => "links changed",
        BandKind::Knob => "knob set",
        BandKind::LossBurst => "loss burst",
    }
}

/// The colour of a lane in `role`.
pub fn role_color(role: Role) -> RGBColor {
    match role {
        Role::Leader => RGBColor(0xf8, 0xc4, 0x71),
        Role::Candidate => RGBColor(0xfc, 0xf3, 0xa0),
        Role::Follower => RGBColor(0xd4, 0xe6, 0xf1),
    }
}

fn outcome_color(outcome: Outcome) -> RGBColor {
    match outcome {
        Outcome::Ok => RGBColor(0x2e, 0xcc, 0x71),
        Outcome::Fail => RGBColor(0xe7, 0x4c, 0x3c),
        Outcome::Info => RGBColor(0xf3, 0x9c, 0x12),
        Outcome::Open => RGBColor(0xbd, 0xc3, 0xc7),
    }
}

/// An interval kind's colour: `lease` gold, others from a small palette by
/// a stable hash of the kind.
fn interval_color(kind: &str) -> RGBColor {
    if kind == "lease" {
        return RGBColor(0xd4, 0xac, 0x0d);
    }
    const PALETTE: [RGBColor; 4] = [
        RGBColor(0x1a, 0xbc, 0x9c),
        RGBColor(0x34, 0x49, 0x5e),
        RGBColor(0xa0, 0x40, 0x00),
        RGBColor(0x5d, 0x6d, 0x7e),
    ];
    let hash = kind.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

/// Where things go, in pixels.
struct Layout {
    from: SimTime,
    to: SimTime,
    lane_height: i32,
    top: i32,
    plot_right: i32,
    legend_rows: i32,
    caption: Vec<String>,
    height: i32,
}

/// A lane's height in pixels: 640 shared by the lanes, 8 to 44 each.
fn lane_height(diagram: &Diagram) -> i32 {
    let lanes = diagram.names.len().max(1) as i32;
    (640 / lanes).clamp(8, 44)
}

/// The x of `t` in a window from `from` to `to` (`to` after `from`).
fn x_at(from: SimTime, to: SimTime, t: SimTime) -> i32 {
    let t = t.clamp(from, to);
    let span = (to.0 - from.0) as f64;
    let width = f64::from(WIDTH as i32 - RIGHT - LEFT);
    LEFT + ((t.0 - from.0) as f64 / span * width).round() as i32
}

/// The window's end as drawn (after its start).
fn drawn_to(diagram: &Diagram) -> SimTime {
    diagram.to.max(SimTime(diagram.from.0 + 1))
}

/// A note's text width in pixels (9-pixel digits and letters).
fn note_text_width(text: &str) -> i32 {
    6 * text.chars().count() as i32
}

/// Where a note's text starts for a tick at `x`: beside it, or to its left
/// near the picture's right edge.
fn note_left(x: i32, text: &str) -> i32 {
    (x + 2).min(WIDTH as i32 - 4 - note_text_width(text))
}

/// The right edge of a note's room: its text and a gap, so notes read
/// like a ruler, not a wall.
fn note_right(x: i32, text: &str) -> i32 {
    note_left(x, text) + note_text_width(text) + 28
}

/// The notes to draw, as indices into `notes` (in time order per lane):
/// from the right, each note clear of the one kept after it on its lane, so
/// of a crowd the latest (the value reached) shows, and of the notes at
/// one pixel the last.
fn thin_notes(notes: &[Note], x: impl Fn(SimTime) -> i32) -> Vec<usize> {
    let mut kept: Vec<usize> = Vec::new();
    // Per lane: the left edge of the note kept after this one.
    let mut next_left: std::collections::BTreeMap<u32, i32> = Default::default();
    for (i, note) in notes.iter().enumerate().rev() {
        let at = x(note.time);
        let clear = next_left
            .get(&note.lane)
            .is_none_or(|&left| note_right(at, &note.text) <= left);
        if clear {
            next_left.insert(note.lane, note_left(at, &note.text));
            kept.push(i);
        }
    }
    kept.reverse();
    debug_assert!(kept.windows(2).all(|w| w[0] < w[1]), "kept out of order");
    kept
}

/// The notes `diagram` shows (none on lanes narrower than [`NOTE_LANE`]).
fn notes_shown(diagram: &Diagram) -> Vec<usize> {
    if lane_height(diagram) < NOTE_LANE {
        return Vec::new();
    }
    let to = drawn_to(diagram);
    thin_notes(&diagram.shapes.notes, |t| x_at(diagram.from, to, t))
}

impl Layout {
    fn new(diagram: &Diagram, legend_rows: i32) -> Layout {
        let lanes = diagram.names.len().max(1) as i32;
        let lane_height = lane_height(diagram);
        let top = TITLE + legend_rows * LEGEND_ROW + 8;
        let caption = caption_lines(diagram);
        let height = top + lanes * lane_height + AXIS + caption.len() as i32 * CAPTION_LINE + 10;
        Layout {
            from: diagram.from,
            to: drawn_to(diagram),
            lane_height,
            top,
            plot_right: WIDTH as i32 - RIGHT,
            legend_rows,
            caption,
            height,
        }
    }

    fn x(&self, t: SimTime) -> i32 {
        x_at(self.from, self.to, t)
    }

    fn lane_top(&self, lane: u32) -> i32 {
        self.top + lane as i32 * self.lane_height
    }

    fn lane_mid(&self, lane: u32) -> i32 {
        self.lane_top(lane) + self.lane_height / 2
    }

    fn bottom(&self, lanes: usize) -> i32 {
        self.top + lanes as i32 * self.lane_height
    }
}

/// The caption: the violation's explanation, wrapped, or that none was found.
fn caption_lines(diagram: &Diagram) -> Vec<String> {
    let text = match &diagram.violation {
        Some((time, _, name, explanation)) => {
            let outside = if *time < diagram.from || *time > diagram.to {
                " (outside the window)"
            } else {
                ""
            };
            format!("violation {name} at {time}{outside}: {explanation}")
        }
        None => "no violation found".to_string(),
    };
    wrap(&text, 200)
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line");
        if !line.is_empty() && line.chars().count() + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

type Area<DB> = DrawingArea<DB, plotters::coord::Shift>;
type DrawResult<T> = Result<T, String>;

fn fail<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing failed: {e:?}")
}

fn font(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// The legend's entries: (swatch colour, text), only for what is drawn.
fn legend(diagram: &Diagram) -> Vec<(RGBColor, String)> {
    let s = &diagram.shapes;
    let mut entries = Vec::new();
    for (role, name) in [
        (Role::Leader, "leader"),
        (Role::Candidate, "candidate"),
        (Role::Follower, "follower"),
    ] {
        if s.roles.iter().any(|r| r.role == role) {
            entries.push((role_color(role), name.to_string()));
        }
    }
    let shown = s.arrows.len();
    let total = diagram.messages_total;
    let messages = if shown < total {
        format!("message (showing {shown} of {total} messages, sampled evenly)")
    } else {
        format!("message ({total})")
    };
    entries.push((ARROW, messages));
    for (fate, color, name) in [
        (Fate::Duplicate, DUPLICATE, "duplicate copy"),
        (Fate::Dropped, DROPPED, "dropped (x)"),
        (Fate::InFlight, IN_FLIGHT, "in flight at the end"),
    ] {
        if s.arrows.iter().any(|a| a.fate == fate) {
            entries.push((color, name.to_string()));
        }
    }
    for kind in [
        BandKind::Down,
        BandKind::Paused,
        BandKind::CutOff,
        BandKind::Link,
        BandKind::Knob,
        BandKind::LossBurst,
    ] {
        if s.bands.iter().any(|b| b.kind == kind) {
            entries.push((band_color(kind), band_name(kind).to_string()));
        }
    }
    let mut kinds: Vec<&str> = s.intervals.iter().map(|i| i.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        entries.push((interval_color(kind), format!("{kind} interval")));
    }
    for (outcome, name) in [
        (Outcome::Ok, "op ok"),
        (Outcome::Fail, "op fail"),
        (Outcome::Info, "op info (unknown)"),
        (Outcome::Open, "op open"),
    ] {
        if s.ops.iter().any(|o| o.outcome == outcome) {
            entries.push((outcome_color(outcome), name.to_string()));
        }
    }
    if !s.marks.is_empty() {
        entries.push((DUPLICATE, "clock jump".to_string()));
    }
    if s.notes_total > 0 {
        let shown = notes_shown(diagram).len();
        let total = s.notes_total;
        let text = if shown == total {
            format!("lane note ({total})")
        } else if shown == 0 {
            format!("lane notes: 0 of {total} shown (lanes too narrow)")
        } else {
            format!("lane note (showing {shown} of {total}, thinned where they would overlap)")
        };
        entries.push((NOTE, text));
    }
    if diagram.violation.is_some() {
        entries.push((VIOLATION, "violation".to_string()));
    }
    entries
}

/// Legend entries laid out in rows: (row, x, colour, text).
fn legend_rows(entries: &[(RGBColor, String)]) -> Vec<(i32, i32, RGBColor, String)> {
    let mut placed = Vec::new();
    let (mut row, mut x) = (0, LEFT);
    for (color, text) in entries {
        let width = 22 + text.chars().count() as i32 * 7;
        if x + width > WIDTH as i32 - RIGHT && x > LEFT {
            row += 1;
            x = LEFT;
        }
        placed.push((row, x, *color, text.clone()));
        x += width;
    }
    placed
}

/// Draws `diagram` on `root` (already `WIDTH` by the layout's height).
fn draw_on<DB: DrawingBackend>(
    root: &Area<DB>,
    diagram: &Diagram,
    layout: &Layout,
) -> DrawResult<Drawn> {
    root.fill(&WHITE).map_err(fail)?;
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    d(root.draw(&Text::new(diagram.title.clone(), (LEFT, 8), font(15))))?;
    let entries = legend(diagram);
    for (row, x, color, text) in legend_rows(&entries) {
        let y = TITLE + row * LEGEND_ROW;
        d(root.draw(&Rectangle::new(
            [(x, y + 3), (x + 14, y + 13)],
            color.filled(),
        )))?;
        d(root.draw(&Text::new(text, (x + 18, y + 2), font(11))))?;
    }
    let mut drawn = Drawn {
        lanes: diagram.names.len(),
        messages_total: diagram.messages_total,
        notes_total: diagram.shapes.notes_total,
        ..Drawn::default()
    };
    draw_lanes(root, diagram, layout, &mut drawn)?;
    draw_axis(root, diagram, layout)?;
    draw_arrows(root, diagram, layout, &mut drawn)?;
    draw_notes(root, diagram, layout, &mut drawn)?;
    draw_violation(root, diagram, layout)?;
    let y0 = layout.bottom(diagram.names.len()) + AXIS;
    for (i, line) in layout.caption.iter().enumerate() {
        let color = if diagram.violation.is_some() {
            VIOLATION
        } else {
            BLACK
        };
        let style = (FONT, 12).into_font().color(&color);
        d(root.draw(&Text::new(
            line.clone(),
            (LEFT, y0 + i as i32 * CAPTION_LINE),
            style,
        )))?;
    }
    debug_assert!(layout.legend_rows >= 1, "the legend has a row");
    Ok(drawn)
}

fn draw_lanes<DB: DrawingBackend>(
    root: &Area<DB>,
    diagram: &Diagram,
    l: &Layout,
    drawn: &mut Drawn,
) -> DrawResult<()> {
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    let s = &diagram.shapes;
    let (left, right) = (LEFT, l.plot_right);
    for (i, name) in diagram.names.iter().enumerate() {
        let top = l.lane_top(i as u32);
        let shade = if i < diagram.servers {
            RGBColor(0xf7, 0xf7, 0xf7)
        } else {
            RGBColor(0xfc, 0xfc, 0xfc)
        };
        d(root.draw(&Rectangle::new(
            [(left, top), (right, top + l.lane_height)],
            shade.filled(),
        )))?;
        let label_every = (14 / l.lane_height).max(1) as usize;
        if i % label_every == 0 {
            let style = font(if l.lane_height >= 20 { 13 } else { 9 })
                .pos(Pos::new(HPos::Right, VPos::Center));
            d(root.draw(&Text::new(
                name.clone(),
                (LEFT - 8, l.lane_mid(i as u32)),
                style,
            )))?;
        }
    }
    for r in &s.roles {
        let top = l.lane_top(r.lane);
        let (x0, x1) = (l.x(r.start), l.x(r.end));
        d(root.draw(&Rectangle::new(
            [(x0, top + 1), (x1.max(x0 + 1), top + l.lane_height - 1)],
            role_color(r.role).filled(),
        )))?;
        drawn.roles += 1;
        if r.role == Role::Leader && x1 - x0 > 60 && l.lane_height >= 20 {
            let text = match r.term {
                Some(t) => format!("leader, term {t}"),
                None => "leader".to_string(),
            };
            d(root.draw(&Text::new(text, (x0 + 4, top + 2), font(10))))?;
        }
    }
    for b in &s.bands {
        let (x0, x1) = (l.x(b.start), l.x(b.end).max(l.x(b.start) + 2));
        let (y0, y1) = match b.lane {
            Some(lane) => (l.lane_top(lane) + 1, l.lane_top(lane) + l.lane_height - 1),
            None => (l.top, l.bottom(diagram.names.len())),
        };
        let alpha = match b.kind {
            BandKind::Down => 0.7,
            BandKind::LossBurst => 0.12,
            _ => 0.35,
        };
        d(root.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            band_color(b.kind).mix(alpha).filled(),
        )))?;
        drawn.bands += 1;
        let fits = (x1 - x0) as usize / 6;
        if fits >= 4 && y1 - y0 >= 14 {
            let text: String = b.label.chars().take(fits).collect();
            let color = if b.kind == BandKind::Down {
                WHITE
            } else {
                BLACK
            };
            let style = (FONT, 10)
                .into_font()
                .color(&color)
                .pos(Pos::new(HPos::Left, VPos::Bottom));
            d(root.draw(&Text::new(text, (x0 + 3, y1 - 1), style)))?;
        }
    }
    for (i, _) in diagram.names.iter().enumerate() {
        let mid = l.lane_mid(i as u32);
        d(root.draw(&PathElement::new(
            vec![(left, mid), (right, mid)],
            RGBColor(0x55, 0x55, 0x55).mix(0.6),
        )))?;
    }
    let bar = (l.lane_height / 5).max(2);
    for iv in &s.intervals {
        let top = l.lane_top(iv.lane) + 2;
        let (x0, x1) = (l.x(iv.start), l.x(iv.end));
        d(root.draw(&Rectangle::new(
            [(x0, top), (x1.max(x0 + 1), top + bar)],
            interval_color(&iv.kind).filled(),
        )))?;
        drawn.intervals += 1;
    }
    for op in &s.ops {
        let top = l.lane_mid(op.lane) + 2;
        let (x0, x1) = (l.x(op.start), l.x(op.end));
        let rect = [(x0, top), (x1.max(x0 + 1), top + bar)];
        d(root.draw(&Rectangle::new(rect, outcome_color(op.outcome).filled())))?;
        d(root.draw(&Rectangle::new(rect, BLACK.mix(0.3))))?;
        drawn.ops += 1;
    }
    for m in &s.marks {
        let (x, top) = (l.x(m.time), l.lane_top(m.lane));
        let tri = vec![(x - 5, top), (x + 5, top), (x, top + 8)];
        d(root.draw(&Polygon::new(tri, DUPLICATE.filled())))?;
        let style = (FONT, 10).into_font().color(&DUPLICATE);
        d(root.draw(&Text::new(m.label.clone(), (x + 7, top), style)))?;
        drawn.marks += 1;
    }
    Ok(())
}

/// The lane notes, over the arrows: a tick below the lane's line and the
/// text beside it on a light ground, so arrows do not hide it.
fn draw_notes<DB: DrawingBackend>(
    root: &Area<DB>,
    diagram: &Diagram,
    l: &Layout,
    drawn: &mut Drawn,
) -> DrawResult<()> {
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    let tick = (l.lane_height / 2 - 3).min(12);
    for i in notes_shown(diagram) {
        let note = &diagram.shapes.notes[i];
        let (x, mid) = (l.x(note.time), l.lane_mid(note.lane));
        let (top, left) = (mid + 4, note_left(x, &note.text));
        d(root.draw(&Rectangle::new(
            [
                (left - 1, top),
                (left + 1 + note_text_width(&note.text), top + 10),
            ],
            WHITE.mix(0.8).filled(),
        )))?;
        d(root.draw(&PathElement::new(
            vec![(x, mid + 1), (x, mid + 1 + tick)],
            NOTE.stroke_width(1),
        )))?;
        let style = (FONT, 9)
            .into_font()
            .color(&NOTE)
            .pos(Pos::new(HPos::Left, VPos::Top));
        d(root.draw(&Text::new(note.text.clone(), (left, top), style)))?;
        drawn.notes += 1;
    }
    Ok(())
}

/// A tick step of 1, 2 or 5 times a power of ten, giving about 10 ticks.
fn tick_step(span_ns: u64) -> u64 {
    let rough = (span_ns / 10).max(1);
    let mut step = 1u64;
    while step.saturating_mul(10) <= rough {
        step = step.saturating_mul(10);
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| step.saturating_mul(m))
        .find(|s| *s >= rough)
        .unwrap_or(step)
}

fn tick_label(t: u64, step: u64) -> String {
    let decimals = match step {
        s if s >= 1_000_000_000 => 0,
        s if s >= 100_000_000 => 1,
        s if s >= 10_000_000 => 2,
        s if s >= 1_000_000 => 3,
        s if s >= 100_000 => 4,
        s if s >= 10_000 => 5,
        _ => 6,
    };
    format!("{:.*}s", decimals, t as f64 / 1e9)
}

fn draw_axis<DB: DrawingBackend>(root: &Area<DB>, diagram: &Diagram, l: &Layout) -> DrawResult<()> {
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    let bottom = l.bottom(diagram.names.len());
    d(root.draw(&PathElement::new(
        vec![(LEFT, bottom), (l.plot_right, bottom)],
        BLACK,
    )))?;
    let step = tick_step(l.to.0 - l.from.0);
    let mut t = l.from.0.div_ceil(step) * step;
    while t <= l.to.0 {
        let x = l.x(SimTime(t));
        d(root.draw(&PathElement::new(
            vec![(x, l.top), (x, bottom)],
            BLACK.mix(0.08),
        )))?;
        d(root.draw(&PathElement::new(vec![(x, bottom), (x, bottom + 5)], BLACK)))?;
        let style = font(11).pos(Pos::new(HPos::Center, VPos::Top));
        d(root.draw(&Text::new(tick_label(t, step), (x, bottom + 7), style)))?;
        t = match t.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    let style = font(11).pos(Pos::new(HPos::Right, VPos::Top));
    d(root.draw(&Text::new("true time", (LEFT - 8, bottom + 7), style)))?;
    Ok(())
}

fn draw_arrows<DB: DrawingBackend>(
    root: &Area<DB>,
    diagram: &Diagram,
    l: &Layout,
    drawn: &mut Drawn,
) -> DrawResult<()> {
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    let dense = diagram.shapes.arrows.len() > 500;
    for a in &diagram.shapes.arrows {
        let (x0, y0) = (l.x(a.sent), l.lane_mid(a.from));
        let (mut x1, mut y1) = (l.x(a.end), l.lane_mid(a.to));
        if a.fate == Fate::Dropped && a.end == a.sent {
            // Dropped at send: a short stub towards the receiver.
            x1 = x0 + 8;
            y1 = y0 + (y1 - y0) / 3;
        }
        let color = match a.fate {
            Fate::Delivered => ARROW,
            Fate::Duplicate => DUPLICATE,
            Fate::Dropped => DROPPED,
            Fate::InFlight => IN_FLIGHT,
        };
        // Dense pictures get fainter arrows, so bands and roles show through.
        let alpha = match (a.fate, dense) {
            (Fate::Delivered, true) => 0.3,
            (Fate::Delivered, false) => 0.55,
            _ => 0.85,
        };
        d(root.draw(&PathElement::new(
            vec![(x0, y0), (x1, y1)],
            color.mix(alpha),
        )))?;
        if a.fate == Fate::Dropped {
            let style = color.stroke_width(2);
            let r = if dense { 2 } else { 4 };
            d(root.draw(&PathElement::new(
                vec![(x1 - r, y1 - r), (x1 + r, y1 + r)],
                style,
            )))?;
            d(root.draw(&PathElement::new(
                vec![(x1 - r, y1 + r), (x1 + r, y1 - r)],
                style,
            )))?;
            drawn.crosses += 1;
        } else {
            d(root.draw(&Polygon::new(head(x0, y0, x1, y1), color.filled())))?;
            drawn.arrows += 1;
        }
    }
    Ok(())
}

/// The arrowhead at `(x1, y1)`, pointing from `(x0, y0)`.
fn head(x0: i32, y0: i32, x1: i32, y1: i32) -> Vec<(i32, i32)> {
    let (dx, dy) = (f64::from(x1 - x0), f64::from(y1 - y0));
    let len = dx.hypot(dy).max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let (size, half) = (7.0, 3.0);
    let bx = f64::from(x1) - ux * size;
    let by = f64::from(y1) - uy * size;
    let p = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
    vec![
        (x1, y1),
        p(bx - uy * half, by + ux * half),
        p(bx + uy * half, by - ux * half),
    ]
}

fn draw_violation<DB: DrawingBackend>(
    root: &Area<DB>,
    diagram: &Diagram,
    l: &Layout,
) -> DrawResult<()> {
    let d = |r: Result<(), DrawingAreaErrorKind<DB::ErrorType>>| r.map_err(fail);
    let Some((time, lanes, name, _)) = &diagram.violation else {
        return Ok(());
    };
    if *time < diagram.from || *time > diagram.to {
        return Ok(());
    }
    let x = l.x(*time);
    let bottom = l.bottom(diagram.names.len());
    d(root.draw(&PathElement::new(
        vec![(x, l.top), (x, bottom)],
        VIOLATION.stroke_width(2),
    )))?;
    for lane in lanes {
        let style = VIOLATION.stroke_width(2);
        d(root.draw(&Circle::new((x, l.lane_mid(*lane)), 7, style)))?;
    }
    // The name beside the line, on its left near the right edge.
    let (h, dx) = if x > l.plot_right - 200 {
        (HPos::Right, -4)
    } else {
        (HPos::Left, 4)
    };
    let style = (FONT, 12)
        .into_font()
        .color(&VIOLATION)
        .pos(Pos::new(h, VPos::Bottom));
    d(root.draw(&Text::new(name.clone(), (x + dx, l.top - 1), style)))?;
    Ok(())
}

/// Draws `diagram` into `path`: PNG if it ends in `.png`, else SVG.
pub fn render(diagram: &Diagram, path: &str) -> Result<Drawn, String> {
    register_fonts();
    let entries = legend(diagram);
    let rows = legend_rows(&entries).last().map_or(1, |(row, ..)| row + 1);
    let layout = Layout::new(diagram, rows);
    let size = (WIDTH, layout.height as u32);
    let write = |bytes: &[u8]| -> Result<(), String> {
        let mut file =
            AtomicFile::create(path).map_err(|e| format!("cannot create the file: {e}"))?;
        file.write_all(bytes)
            .and_then(|()| file.commit())
            .map_err(|e| format!("cannot write the file: {e}"))
    };
    if path.to_ascii_lowercase().ends_with(".png") {
        let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
        let drawn = {
            let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
            let drawn = draw_on(&root, diagram, &layout)?;
            root.present().map_err(fail)?;
            drawn
        };
        write(&encode_png(&pixels, size)?)?;
        Ok(drawn)
    } else {
        let svg = render_svg(diagram, &layout, size)?;
        write(svg.0.as_bytes())?;
        Ok(svg.1)
    }
}

fn render_svg(
    diagram: &Diagram,
    layout: &Layout,
    size: (u32, u32),
) -> Result<(String, Drawn), String> {
    let mut svg = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = draw_on(&root, diagram, layout)?;
        root.present().map_err(fail)?;
        drawn
    };
    Ok((svg, drawn))
}

/// The SVG text of `diagram`, and what it holds.
pub fn to_svg(diagram: &Diagram) -> Result<(String, Drawn), String> {
    register_fonts();
    let entries = legend(diagram);
    let rows = legend_rows(&entries).last().map_or(1, |(row, ..)| row + 1);
    let layout = Layout::new(diagram, rows);
    render_svg(diagram, &layout, (WIDTH, layout.height as u32))
}

/// RGB pixels as a PNG file.
fn encode_png(pixels: &[u8], size: (u32, u32)) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, size.0, size.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Flat colours and thin lines: adaptive filtering makes the file about
        // a fifth of the size, at default compression (Best is slower, hardly smaller).
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        encoder.set_compression(png::Compression::Default);
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
        writer
            .write_image_data(pixels)
            .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(lane: u32, x: u64, text: &str) -> Note {
        Note {
            lane,
            time: SimTime(x),
            text: text.to_string(),
        }
    }

    #[test]
    fn notes_thin_from_the_right_keeping_the_latest_of_a_crowd_on_each_lane() {
        // Times are pixels here. "cN" is 12 pixels of text after a 2-pixel
        // offset, plus 28 of gap: a tick needs 40 pixels before the next
        // kept tick on its lane.
        let notes = [
            note(0, 100, "c1"), // the same pixel as c2: left out
            note(0, 100, "c2"), // 10 before c3, which is kept: left out
            note(1, 105, "c1"), // 1 before lane 1's c7: left out
            note(0, 110, "c3"), // exactly 40 before c6: kept
            note(0, 111, "c4"), // 39 before c6: left out
            note(0, 150, "c5"), // the same pixel as c6: left out
            note(0, 150, "c6"), // the latest at its pixel: kept
            note(1, 106, "c7"), // lane 1's last: kept
        ];
        let kept = thin_notes(&notes, |t| t.0 as i32);
        let texts: Vec<_> = kept
            .iter()
            .map(|&i| (notes[i].lane, notes[i].text.as_str()))
            .collect();
        assert_eq!(texts, vec![(0, "c3"), (0, "c6"), (1, "c7")]);
        assert!(thin_notes(&[], |t| t.0 as i32).is_empty());
    }

    #[test]
    fn a_note_at_the_right_edge_is_written_to_the_left_of_its_tick() {
        let x = WIDTH as i32 - RIGHT;
        assert!(note_left(x, "w t12") + note_text_width("w t12") <= WIDTH as i32 - 4);
        assert_eq!(note_left(LEFT, "c1"), LEFT + 2);
    }
}
